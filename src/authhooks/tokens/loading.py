"""Keys from settings and files: :func:`keys_from_settings` and the embedded default signing key."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from authhooks._files import create_secret_file
from authhooks.errors import ConfigurationError, MalformedToken
from authhooks.tokens._algorithms import ALGORITHMS
from authhooks.tokens._json import loads_object
from authhooks.tokens.jwks import RemoteKeySet
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = [
    "DEFAULT_KEY_FILENAME",
    "keys_from_settings",
    "load_jwks_file",
    "load_or_create_default_key",
    "remote_key_set_from_settings",
]

logger = logging.getLogger("authhooks")

DEFAULT_KEY_FILENAME = "signing-key.pem"


def load_or_create_default_key(state_dir: str | os.PathLike[str]) -> Key:
    """The embedded default signing key: ``state_dir/signing-key.pem``, an Ed25519 key created on first use.

    The file is created atomically with mode 0600 (its directory with 0700 when missing) and reused on every
    later start; creating it logs a warning naming the path (never the key).

    Raises:
        ConfigurationError: the file exists but is not a usable private key, or cannot be written.
    """
    path = Path(state_dir) / DEFAULT_KEY_FILENAME
    if path.exists():
        return _load_private(path, "AUTHHOOKS_STATE_DIR")
    key = Key.generate("EdDSA")
    if not create_secret_file(path, key.private_pem()):
        return _load_private(path, "AUTHHOOKS_STATE_DIR")
    logger.warning(
        "authhooks: no signing key configured; generated an Ed25519 key at %s (set AUTHHOOKS_SIGNING_KEY_FILE "
        "or AUTHHOOKS_SECRET to choose one)",
        path,
    )
    return key


def _read(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path} ({exc.strerror})") from None


def _load_private(path: Path, variable: str, algorithms: tuple[str, ...] | None = None) -> Key:
    pem = _read(path, variable)
    try:
        key = Key.from_pem(pem, _suited(pem, algorithms))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {path}: {exc}") from None
    if key.signing_key is None:
        raise ConfigurationError(f"{variable}: {path} holds a public key; a private key is needed to sign")
    return key


def _suited(pem: bytes, algorithms: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Restrict a PEM key's allow-list to the configured algorithms of its key type (``None``: inferred)."""
    if not algorithms:
        return None
    inferred = Key.from_pem(pem)
    suited = tuple(
        a
        for a in algorithms
        if a in ALGORITHMS
        and ALGORITHMS[a].kty == inferred.kty
        and (inferred.kty != "EC" or a == inferred.algorithms[0])
    )
    if not suited:
        raise ConfigurationError(f"none of the configured algorithms suits this {inferred.kty} key")
    return suited


def keys_from_settings(
    settings: Any, *, create_default: bool = True, http_client: Any = None
) -> tuple[Key | None, KeySet | None, RemoteKeySet | None]:
    """Build the keys :class:`~authhooks.config.Settings` describe.

    - ``secret`` → an HMAC key (the ``HS*`` entries of ``algorithms``, default ``HS256``) that signs and
      validates;
    - ``signing_key_file`` → a PEM private key that signs (its public half validates);
    - ``public_key_file`` → a PEM public (or private) key that validates;
    - ``jwks_file`` → every key of a static JWK Set (:func:`load_jwks_file`), each under its ``kid``: public keys
      and ``oct`` HMAC secrets, which validate;
    - ``jwks_url`` / ``oidc_issuer`` → a :class:`RemoteKeySet` (not fetched here) that fetches with
      ``http_client`` (an httpx client or transport);
    - none of these, and ``create_default`` → :func:`load_or_create_default_key` in ``state_dir``.

    ``algorithms`` restricts every allow-list; a key none of them suits is a configuration error.

    Returns:
        ``(signing key or None, local key set or None, remote key set or None)``.

    Raises:
        ConfigurationError: naming the variable, for unreadable, invalid or weak keys.
    """
    algorithms: tuple[str, ...] = tuple(settings.algorithms)
    for alg in algorithms:
        if alg not in ALGORITHMS:
            raise ConfigurationError(f"AUTHHOOKS_ALGORITHMS: unsupported algorithm {alg!r}")
    signing: Key | None = None
    keys: list[Key] = []
    if settings.secret is not None:
        hs = tuple(a for a in algorithms if a.startswith("HS")) or ("HS256",)
        if algorithms and not any(a.startswith("HS") for a in algorithms):
            raise ConfigurationError("AUTHHOOKS_SECRET: AUTHHOOKS_ALGORITHMS allows no HS* algorithm")
        try:
            signing = Key.from_secret(settings.secret, hs)
        except ConfigurationError as exc:
            raise ConfigurationError(f"AUTHHOOKS_SECRET: {exc}") from None
        keys.append(signing)
    if settings.signing_key_file is not None:
        path = Path(settings.signing_key_file)
        key = _load_private(path, "AUTHHOOKS_SIGNING_KEY_FILE", algorithms)
        signing = signing or key
        keys.append(key)
    if settings.public_key_file is not None:
        path = Path(settings.public_key_file)
        pem = _read(path, "AUTHHOOKS_PUBLIC_KEY_FILE")
        try:
            key = Key.from_pem(pem, _suited(pem, algorithms))
        except ConfigurationError as exc:
            raise ConfigurationError(f"AUTHHOOKS_PUBLIC_KEY_FILE: {path}: {exc}") from None
        keys.append(key if key.signing_key is None else Key.from_crypto_key(key.verify_key, key.algorithms))
    jwks_file = getattr(settings, "jwks_file", None)
    if jwks_file is not None:
        keys.extend(load_jwks_file(Path(jwks_file), algorithms))
    remote = remote_key_set_from_settings(settings, http_client=http_client)
    if not keys and remote is None and create_default:
        signing = load_or_create_default_key(settings.state_dir)
        keys.append(signing)
    try:
        keyset = KeySet(_unique(keys)) if keys else None
    except ConfigurationError as exc:
        variable = "AUTHHOOKS_JWKS_FILE" if jwks_file is not None else "AUTHHOOKS_PUBLIC_KEY_FILE"
        raise ConfigurationError(f"{variable}: {exc}") from None
    return signing, keyset, remote


def load_jwks_file(path: Path, algorithms: tuple[str, ...] = ()) -> list[Key]:
    """The keys of a static JWK Set file (RFC 7517 §5): RSA, EC and OKP keys (public, or private whose public
    half is used) and ``oct`` HMAC secrets, each under its ``kid`` (default: its RFC 7638 thumbprint). A key
    without ``alg`` allows its type's family (:meth:`Key.from_jwk`), narrowed by ``algorithms``. Symmetric keys
    are fine here, unlike in a fetched set: the file is local and private (keep it mode 0600).

    Raises:
        ConfigurationError: naming ``AUTHHOOKS_JWKS_FILE``, the file and the key (index and ``kid``): unreadable,
            not a JWK Set, an unusable or weak key, two keys with one ``kid``.
    """
    raw = _read(path, "AUTHHOOKS_JWKS_FILE")
    try:
        document = loads_object(raw)
    except MalformedToken:
        raise ConfigurationError(f"AUTHHOOKS_JWKS_FILE: {path} is not a JSON object") from None
    entries = document.get("keys")
    if type(entries) is not list or not entries:
        raise ConfigurationError(f"AUTHHOOKS_JWKS_FILE: {path} is not a JWK Set with at least one key")
    keys: list[Key] = []
    seen: set[str] = set()
    for index, jwk in enumerate(entries):
        name = f"key #{index}" + (f" (kid {str(jwk.get('kid'))[:64]!r})" if isinstance(jwk, dict) else "")
        try:
            key = Key.from_jwk(jwk, algorithms or None)
        except ConfigurationError as exc:
            raise ConfigurationError(f"AUTHHOOKS_JWKS_FILE: {path}: {name}: {exc}") from None
        if key.kid in seen:
            raise ConfigurationError(f"AUTHHOOKS_JWKS_FILE: {path}: {name}: two keys share the kid {key.kid!r}")
        seen.add(key.kid)
        if key.kty != "oct" and key.signing_key is not None:
            key = Key.from_crypto_key(key.verify_key, key.algorithms, kid=key.kid)  # validation only
        keys.append(key)
    return keys


def remote_key_set_from_settings(settings: Any, *, http_client: Any = None) -> RemoteKeySet | None:
    """The :class:`RemoteKeySet` of ``jwks_url`` / ``oidc_issuer`` (not fetched here), or ``None`` when neither is set.

    With ``oidc_issuer`` its keys are bound to that issuer: a token they verify must carry exactly that ``iss``
    (RFC 9068 §4), even when ``issuer`` is unset. ``http_client`` is an ``httpx.Client``/``AsyncClient`` or
    transport used for discovery and key fetching.

    Raises:
        ConfigurationError: naming the variable, for a URL that may not serve keys.
    """
    if settings.jwks_url is None and settings.oidc_issuer is None:
        return None
    variable = "AUTHHOOKS_JWKS_URL" if settings.jwks_url is not None else "AUTHHOOKS_OIDC_ISSUER"
    try:
        return RemoteKeySet(
            settings.jwks_url,
            settings.oidc_issuer,
            ttl=settings.jwks_ttl_seconds,
            cooldown=settings.jwks_refetch_cooldown_seconds,
            timeout=settings.jwks_timeout_seconds,
            algorithms=tuple(settings.algorithms) or None,
            http_client=http_client,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{variable}: {exc}") from None


def _unique(keys: list[Key]) -> list[Key]:
    """Drop a public key that duplicates a configured private key (same thumbprint)."""
    seen: dict[str, Key] = {}
    for key in keys:
        seen.setdefault(key.kid, key)
    return list(seen.values())
