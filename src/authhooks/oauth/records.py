"""The records of a sign-in with an OpenID provider: the pending login, the external identity, the provider's
tokens. None of them shows a secret in its ``repr``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ExternalIdentity", "PendingLogin", "ProviderTokens", "pkce_challenge", "state_key"]


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier``: ``BASE64URL(SHA256(ASCII(verifier)))`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def state_key(state: str) -> str:
    """The store key of a pending login: the ``state`` is never stored in clear (a store dump cannot complete a
    login)."""
    return "oauth-pending:" + hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class PendingLogin:
    """A started sign-in, stored under :func:`state_key` until the callback takes it (once).

    Attributes:
        provider: the provider's name.
        nonce: the ``nonce`` sent (OIDC Core §3.1.2.1), 256 random bits.
        verifier: the PKCE code verifier (RFC 7636 §4.1), 256 random bits.
        redirect_uri: the ``redirect_uri`` sent (the token request repeats it, RFC 6749 §4.1.3).
        return_to: where to land after the login (a local path).
        created_at: Unix time it was made.
        binding: the SHA-256 of the browser binding (a random value the start route sets as a cookie; the
            callback must come from the same browser: login CSRF, RFC 9700 §4.7), or ``""`` for none.
    """

    provider: str
    nonce: str
    verifier: str
    redirect_uri: str
    return_to: str
    created_at: float
    binding: str = ""

    @classmethod
    def new(cls, provider: str, redirect_uri: str, return_to: str, now: float, binding: str = "") -> PendingLogin:
        """A pending login with fresh ``nonce`` and verifier, bound to the browser holding ``binding``."""
        bound = hashlib.sha256(binding.encode("utf-8")).hexdigest() if binding else ""
        nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        return cls(provider, nonce, verifier, redirect_uri, return_to, now, bound)

    def bound_to(self, binding: str | None) -> bool:
        """Whether the callback's browser binding matches (always, for a login started without one)."""
        if not self.binding:
            return True
        if not binding:
            return False
        digest = hashlib.sha256(binding.encode("utf-8", "surrogatepass")).hexdigest()
        return hmac.compare_digest(digest, self.binding)

    def to_bytes(self) -> bytes:
        """The stored form."""
        return json.dumps(
            [self.provider, self.nonce, self.verifier, self.redirect_uri, self.return_to, self.created_at, self.binding]
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> PendingLogin:
        """Read the stored form back.

        Raises:
            ValueError: not a pending login.
        """
        items = json.loads(raw)
        if not isinstance(items, list) or len(items) != 7 or not all(isinstance(i, str) for i in items[:5]):
            raise ValueError("not a pending login")
        return cls(items[0], items[1], items[2], items[3], items[4], float(items[5]), str(items[6]))

    def __repr__(self) -> str:
        return f"PendingLogin(provider={self.provider!r})"


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who the provider says signed in: what ``login.verified`` hooks see as ``external``.

    Attributes:
        provider: the provider's name.
        subject: the ID token's ``sub`` (unique at that provider only).
        claims: the ID token's claims (``email``, ``name``…), read-only.
    """

    provider: str
    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    @property
    def local_subject(self) -> str:
        """The default local subject, ``{provider}:{sub}`` (a ``login.verified`` hook may link another)."""
        return f"{self.provider}:{self.subject}"


@dataclass(frozen=True, slots=True, repr=False)
class ProviderTokens:
    """The provider's tokens from a code exchange or a refresh (RFC 6749 §5.1). Kept (encrypted) only when the
    provider is configured with ``keep_tokens``.

    Attributes:
        access_token: the provider's access token.
        refresh_token: its refresh token, if it sent one.
        id_token: the ID token, if any.
        expires_at: Unix time the access token expires, if the provider said.
        scope: the granted scope, if the provider said.
    """

    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None

    @classmethod
    def from_answer(
        cls, answer: Mapping[str, Any], now: float, previous: ProviderTokens | None = None
    ) -> ProviderTokens:
        """Read a token endpoint answer; a refresh answer without a new refresh token keeps ``previous``'s.

        Raises:
            ValueError: no ``access_token`` or a token type other than Bearer.
        """
        access = answer.get("access_token")
        kind = answer.get("token_type", "Bearer")
        if not isinstance(access, str) or not access or not isinstance(kind, str) or kind.lower() != "bearer":
            raise ValueError("not a bearer token answer")
        expires_in = answer.get("expires_in")
        expires_at = (
            now + expires_in if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else None
        )
        refresh = answer.get("refresh_token")
        if not isinstance(refresh, str):
            refresh = previous.refresh_token if previous is not None else None
        id_token = answer.get("id_token")
        scope = answer.get("scope")
        return cls(
            access,
            refresh,
            id_token if isinstance(id_token, str) else None,
            expires_at,
            scope if isinstance(scope, str) else None,
        )

    def to_json(self) -> bytes:
        """The plaintext kept encrypted in the store."""
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "id_token": self.id_token,
                "expires_at": self.expires_at,
                "scope": self.scope,
            }
        ).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> ProviderTokens:
        """Read :meth:`to_json` back."""
        data = json.loads(raw)
        return cls(data["access_token"], data["refresh_token"], data["id_token"], data["expires_at"], data["scope"])

    def __repr__(self) -> str:
        return f"ProviderTokens(refresh_token={'yes' if self.refresh_token else 'no'}, expires_at={self.expires_at})"
