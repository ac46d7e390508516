"""OpenID providers to sign in with: :class:`OAuthProvider`, read from a TOML file or given as keywords.

A provider is named by its issuer URL (its endpoints and keys come from OpenID Connect Discovery 1.0 §4), a
client id, an optional client secret (none for a public client, which PKCE alone protects: RFC 7636, RFC 9700
§2.1.1), the scopes to ask for and the redirect URI registered at the provider. The file
(``AUTHHOOKS_OAUTH_PROVIDERS_FILE``) holds one table per provider::

    [provider.keycloak]
    issuer = "https://sso.example.com/realms/main"
    client_id = "shop"
    client_secret_file = "/run/secrets/keycloak"   # or client_secret = "..."; neither for a public client
    scopes = ["openid", "email"]
    redirect_uri = "https://shop.example.com/auth/oauth/keycloak/callback"
    token_auth = "client_secret_basic"              # or client_secret_post, none
    keep_tokens = false                              # keep the provider's tokens (encrypted) to refresh them
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from authhooks import _toml
from authhooks.config import Secret
from authhooks.errors import ConfigurationError
from authhooks.tokens.jwks import check_key_url

__all__ = ["OAuthProvider", "TokenAuth", "load_providers"]

TokenAuth = Literal["client_secret_basic", "client_secret_post", "none"]
"""How the client authenticates at the token endpoint (OIDC Core §9; RFC 6749 §2.3.1)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "client_secret",
        "client_secret_file",
        "scopes",
        "redirect_uri",
        "token_auth",
        "keep_tokens",
        "params",
    }
)


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """One OpenID provider.

    Attributes:
        name: the name in the routes (``{prefix}/oauth/{name}/start``): lower case letters, digits, ``-``, ``_``.
        issuer: the issuer URL (https, or http on 127.0.0.1/localhost); discovery is fetched from it and the ID
            token's ``iss`` must equal it.
        client_id: the client id (the ID token's ``aud``).
        client_secret: the client secret, or ``None`` for a public client.
        scopes: the scopes asked for; ``openid`` is always included.
        redirect_uri: the callback URL registered at the provider, or ``None`` to derive it from the request
            (``{origin}{prefix}/oauth/{name}/callback``).
        token_auth: the client authentication at the token endpoint (default: ``client_secret_basic`` with a
            secret, ``none`` without).
        keep_tokens: keep the provider's access and refresh tokens, encrypted, to refresh them later.
        params: extra authorization request parameters (``prompt``, ``hd``…).
    """

    name: str
    issuer: str
    client_id: str
    client_secret: Secret | None = None
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    redirect_uri: str | None = None
    token_auth: TokenAuth | None = None
    keep_tokens: bool = False
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"oauth provider {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigurationError(f"{where}: the name must be 1-32 of a-z, 0-9, '-', '_'")
        try:
            check_key_url(self.issuer) if isinstance(self.issuer, str) else None
        except ConfigurationError:
            raise ConfigurationError(f"{where}: issuer must be an https URL (http only on 127.0.0.1)") from None
        if not isinstance(self.issuer, str):
            raise ConfigurationError(f"{where}: issuer must be a URL string")
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ConfigurationError(f"{where}: client_id is required")
        secret: object = self.client_secret  # a str is accepted too
        if isinstance(secret, (str, bytes)):
            object.__setattr__(self, "client_secret", Secret(secret))
        elif secret is not None and not isinstance(secret, Secret):
            raise ConfigurationError(f"{where}: client_secret must be a string")
        given: object = self.scopes  # a space-free str is accepted too
        scopes = (given,) if isinstance(given, str) else tuple(self.scopes)
        if not all(isinstance(s, str) and s and " " not in s for s in scopes):
            raise ConfigurationError(f"{where}: scopes must be strings without spaces")
        if "openid" not in scopes:
            scopes = ("openid", *scopes)
        object.__setattr__(self, "scopes", scopes)
        if self.redirect_uri is not None:
            try:
                url = httpx.URL(self.redirect_uri)
            except (httpx.InvalidURL, TypeError):
                raise ConfigurationError(f"{where}: redirect_uri is not a URL") from None
            if url.scheme not in ("https", "http") or not url.host or url.fragment:
                raise ConfigurationError(f"{where}: redirect_uri must be an absolute http(s) URL without fragment")
        auth = self.token_auth
        if auth is None:
            auth = "client_secret_basic" if self.client_secret is not None else "none"
            object.__setattr__(self, "token_auth", auth)
        if auth not in ("client_secret_basic", "client_secret_post", "none"):
            raise ConfigurationError(f"{where}: token_auth must be client_secret_basic, client_secret_post or none")
        if auth != "none" and self.client_secret is None:
            raise ConfigurationError(f"{where}: token_auth {auth} needs a client_secret")
        if not isinstance(self.keep_tokens, bool):
            raise ConfigurationError(f"{where}: keep_tokens must be true or false")
        if not isinstance(self.params, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.params.items()
        ):
            raise ConfigurationError(f"{where}: params must map strings to strings")
        object.__setattr__(self, "params", dict(self.params))

    def __repr__(self) -> str:
        return f"OAuthProvider(name={self.name!r}, issuer={self.issuer!r}, client_id={self.client_id!r})"

    @classmethod
    def from_mapping(cls, name: str, table: Mapping[str, Any], where: str) -> OAuthProvider:
        """Build a provider from a TOML table or a dict (``client_secret_file`` read here).

        Raises:
            ConfigurationError: an unknown key, a missing or malformed value, an unreadable secret file; the
                message names ``where`` and the provider.
        """
        unknown = set(table) - _KEYS
        if unknown:
            raise ConfigurationError(f"{where}: provider {name!r}: unknown key(s) {', '.join(sorted(unknown))}")
        values = dict(table)
        secret_file = values.pop("client_secret_file", None)
        if secret_file is not None:
            if "client_secret" in values:
                raise ConfigurationError(f"{where}: provider {name!r}: client_secret and client_secret_file")
            try:
                values["client_secret"] = Secret(Path(secret_file).read_text("utf-8").strip())
            except (OSError, TypeError, UnicodeDecodeError):
                raise ConfigurationError(f"{where}: provider {name!r}: cannot read client_secret_file") from None
        for key in ("issuer", "client_id"):
            if key not in values:
                raise ConfigurationError(f"{where}: provider {name!r}: {key} is required")
        try:
            return cls(name=name, **values)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None


def load_providers(
    file: Path | None, given: Iterable[OAuthProvider | Mapping[str, Any]] = ()
) -> dict[str, OAuthProvider]:
    """The providers of ``file`` (``AUTHHOOKS_OAUTH_PROVIDERS_FILE``) and ``given`` (the ``oauth_providers=``
    keyword: providers, or mappings with a ``name``), by name.

    Raises:
        ConfigurationError: an unreadable or malformed file, a malformed provider, or one name twice.
    """
    providers: dict[str, OAuthProvider] = {}

    def add(provider: OAuthProvider, where: str) -> None:
        if provider.name in providers:
            raise ConfigurationError(f"{where}: oauth provider {provider.name!r} is configured twice")
        providers[provider.name] = provider

    if file is not None:
        where = "AUTHHOOKS_OAUTH_PROVIDERS_FILE"
        try:
            document = _toml.loads(Path(file).read_text("utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read {file} ({exc.strerror})") from None
        except (_toml.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{where}: {file} is not valid TOML ({exc})") from None
        tables = document.get("provider")
        if set(document) - {"provider"} or not isinstance(tables, dict):
            raise ConfigurationError(f"{where}: {file} must hold [provider.NAME] tables only")
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ConfigurationError(f"{where}: provider.{name} must be a table")
            add(OAuthProvider.from_mapping(name, table, where), where)
    for item in given:
        where = "oauth_providers"
        if isinstance(item, OAuthProvider):
            add(item, where)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            rest = {k: v for k, v in item.items() if k != "name"}
            add(OAuthProvider.from_mapping(item["name"], rest, where), where)
        else:
            raise ConfigurationError(f"{where}: expected OAuthProvider objects or mappings with a 'name'")
    return providers
