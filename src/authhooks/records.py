"""The frozen records the token layer and the hooks share: ``Principal`` (who, once proven), ``TokenPair`` (what a
login or refresh returns) and ``RequestInfo`` (what hooks may know about the HTTP request).

A base module: it imports nothing of authhooks, so ``tokens``, ``stores`` and ``verifiers`` can use these records
without depending on the hook vocabulary of :mod:`authhooks.events`, which re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Principal", "RequestInfo", "TokenPair"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What hooks may know about the HTTP request behind a flow (no credentials: ``Authorization`` and
    ``Cookie`` headers are never included)."""

    method: str = ""
    path: str = ""
    client_ip: str | None = None
    scheme: str = "http"
    headers: Mapping[str, str] = field(default_factory=_empty)
    route: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request or login is about, once proven.

    Attributes:
        subject: the ``sub`` (for key-based identities, the public key or address).
        claims: the verified claims (read-only).
        scopes: the granted scopes (from ``scope``/``scp``).
        token_type: ``access``, ``refresh``… when the principal comes from a token.
        attributes: extra data hooks and providers attach (``validate_token.post`` may enrich it).
    """

    subject: str
    claims: Mapping[str, Any] = field(default_factory=_empty)
    scopes: frozenset[str] = frozenset()
    token_type: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=_empty)

    @property
    def jti(self) -> str | None:
        """The token id, when the principal comes from a token."""
        value = self.claims.get("jti")
        return value if isinstance(value, str) else None

    @property
    def expires_at(self) -> float | None:
        """The ``exp`` claim as a Unix time, when present."""
        value = self.claims.get("exp")
        return float(value) if isinstance(value, (int, float)) else None

    def has_scopes(self, required: tuple[str, ...] | frozenset[str] | list[str]) -> bool:
        """True when every required scope is granted."""
        return self.scopes.issuperset(required)


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or refresh returns (RFC 6749 §5.1 field names).

    Attributes:
        access_token: the access token (always present).
        expires_in: its lifetime in seconds (always present).
        refresh_token: the refresh token of the login; always present on a pair a login, ``issue_tokens`` or a
            refresh issued, so ``auth.refresh_token(pair.refresh_token)`` type-checks. ``""`` only on a pair built
            by hand without one (``None`` is still accepted there and stored as ``""``, for back-compatibility).
        token_type: always ``"Bearer"`` for issued pairs.
        scope: the granted scopes, space-separated, or ``None`` when none were granted (RFC 6749 §5.1: the
            member is omitted).
    """

    access_token: str
    expires_in: int
    refresh_token: str = ""
    token_type: str = "Bearer"
    scope: str | None = None

    def __post_init__(self) -> None:
        refresh: object = self.refresh_token
        if refresh is None:  # the earlier `str | None` type: keep accepting None
            object.__setattr__(self, "refresh_token", "")

    def __repr__(self) -> str:
        return f"TokenPair(token_type={self.token_type!r}, expires_in={self.expires_in}, access_token=***)"

    def as_dict(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 JSON body."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.scope:
            body["scope"] = self.scope
        return body
