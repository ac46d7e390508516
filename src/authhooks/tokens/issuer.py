"""Issuing JWTs: :class:`TokenIssuer` signs with the newest key and publishes every key's public half.

Claims precedence: the caller's ``claims`` are copied first, then the issuer sets the reserved claims ``iss``
(when configured), ``sub``, ``iat``, ``exp`` and ``jti``, ``aud`` when an audience is configured, and ``sid``
when the token belongs to a login (its refresh family); so a caller can add ``scope``, ``client_id`` or any
private claim but can never override those (RFC 7519 §4.1, RFC 9068 §2.2). ``nbf`` is not set (``iat`` already
bounds the start).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from authhooks.errors import ConfigurationError
from authhooks.tokens._b64 import b64url_encode
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet

__all__ = ["TOKEN_TYPES", "IssuedToken", "TokenIssuer", "new_jti"]

TOKEN_TYPES: Mapping[str, str] = MappingProxyType({"access": "at+jwt", "refresh": "refresh+jwt"})
"""Header ``typ`` per token type (RFC 9068 §2.1); any other type ``x`` gets ``x+jwt``."""


def new_jti() -> str:
    """A random 128-bit token id, base64url (RFC 7519 §4.1.7)."""
    return b64url_encode(secrets.token_bytes(16))


@dataclass(frozen=True, slots=True, repr=False)
class IssuedToken:
    """A freshly issued token.

    Attributes:
        token: the compact JWT; a credential, never logged.
        claims: its claims (read-only).
        jti: its ``jti``.
        expires_at: its ``exp`` (Unix seconds).
        token_type: ``access``, ``refresh`` or a custom type.
    """

    token: str
    claims: Mapping[str, Any]
    jti: str
    expires_at: int
    token_type: str

    def __repr__(self) -> str:
        return f"IssuedToken(token_type={self.token_type!r}, jti={self.jti!r}, expires_at={self.expires_at})"


def _compact_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode("utf-8")


class TokenIssuer:
    """Signs JWTs with the newest key; every key listed validates (key rotation).

    Args:
        keys: the keys, **newest first**: ``keys[0]`` signs, all of them validate and are published.
        issuer: the ``iss`` claim to set, or ``None``.
        audience: the ``aud`` claim set is the first audience, when any.
        access_ttl: the default lifetime in seconds.
        algorithm: the signing algorithm (default: the signing key's first allowed one).
        clock: the time source (Unix seconds).

    Raises:
        ConfigurationError: no keys, or the first key cannot sign.
    """

    def __init__(
        self,
        keys: Sequence[Key],
        *,
        issuer: str | None = None,
        audience: Sequence[str] | str = (),
        access_ttl: int = 900,
        algorithm: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ConfigurationError("a token issuer needs at least one key")
        signing = keys[0]
        alg = algorithm or signing.algorithms[0]
        if not signing.can_sign or alg not in signing.signers:
            raise ConfigurationError(f"the newest key ({signing.kid!r}) cannot sign with {alg}")
        if access_ttl < 1:
            raise ConfigurationError("access_ttl must be at least 1 second")
        self._signing = signing
        self._alg = alg
        self._keyset = KeySet(keys)
        self._issuer = issuer
        self._audience = (audience,) if isinstance(audience, str) else tuple(audience)
        self._ttl = int(access_ttl)
        self._clock = clock

    @property
    def keyset(self) -> KeySet:
        """Every key, for validation."""
        return self._keyset

    @property
    def signing_key(self) -> Key:
        """The key that signs."""
        return self._signing

    @property
    def algorithm(self) -> str:
        """The signing algorithm."""
        return self._alg

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set to publish (symmetric keys never appear)."""
        return self._keyset.jwks()

    def issue(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        token_type: str = "access",
        ttl: int | None = None,
        sid: str | None = None,
    ) -> IssuedToken:
        """Sign a new JWT for ``subject``.

        Args:
            subject: the ``sub`` claim.
            claims: extra claims (``scope``, ``client_id``…); reserved claims set by the issuer win.
            token_type: ``access`` (``typ: at+jwt``), ``refresh`` (``typ: refresh+jwt``) or a custom type
                ``x`` (``typ: x+jwt``).
            ttl: the lifetime in seconds (default: ``access_ttl``).
            sid: the login (refresh family) the token belongs to, issued as ``sid`` (OpenID Connect's session
                id): ending the login revokes every token that carries it.

        Raises:
            TypeError: a claim name is not a string; ValueError: a claim is not JSON (NaN, Infinity…).
        """
        if type(subject) is not str or not subject:
            raise TypeError("subject must be a non-empty string")
        lifetime = self._ttl if ttl is None else int(ttl)
        if lifetime < 1:
            raise ValueError("ttl must be at least 1 second")
        body: dict[str, Any] = {}
        if claims:
            if not all(type(name) is str for name in claims):
                raise TypeError("claim names must be strings")
            body.update(claims)
        now = math.floor(self._clock())
        jti = new_jti()
        if self._issuer is not None:
            body["iss"] = self._issuer
        if self._audience:
            body["aud"] = self._audience[0]
        body.update(sub=subject, iat=now, exp=now + lifetime, jti=jti)
        if sid is not None:
            body["sid"] = sid
        header = {"alg": self._alg, "kid": self._signing.kid, "typ": TOKEN_TYPES.get(token_type, f"{token_type}+jwt")}
        signing_input = f"{b64url_encode(_compact_json(header))}.{b64url_encode(_compact_json(body))}"
        signature = self._signing.sign(signing_input.encode("ascii"), self._alg)
        return IssuedToken(
            token=f"{signing_input}.{b64url_encode(signature)}",
            claims=MappingProxyType(body),
            jti=jti,
            expires_at=now + lifetime,
            token_type=token_type,
        )
