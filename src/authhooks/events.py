"""The vocabulary of flows: ``Flow``, ``Stage``, ``Outcome`` and ``Decision`` enums, and the frozen records that
hooks receive (``Event``, ``RequestInfo``) and return results about (``Principal``, ``TokenPair``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["Decision", "Event", "Flow", "Outcome", "Principal", "RequestInfo", "Stage", "TokenPair"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


class Flow(str, enum.Enum):
    """The auth flows of product.md §4; each is a sans-IO generator in :mod:`authhooks.flows`."""

    CHALLENGE = "challenge"
    LOGIN = "login"
    VERIFY_SIGNATURE = "verify_signature"
    ISSUE_TOKEN = "issue_token"
    VALIDATE_TOKEN = "validate_token"
    REFRESH_TOKEN = "refresh_token"
    INVALIDATE_TOKEN = "invalidate_token"
    REAUTHENTICATE = "reauthenticate"
    AUTHORIZE = "authorize"
    REGISTER = "register"
    REQUEST = "request"

    def __str__(self) -> str:
        return self.value


class Stage(str, enum.Enum):
    """Where in a flow a hook point sits."""

    PRE = "pre"
    PROVIDE = "provide"
    VERIFIED = "verified"
    POST = "post"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class Outcome(str, enum.Enum):
    """How a flow ended: ``success``, ``failure`` (a rejected credential), ``none`` (nothing to decide, e.g.
    anonymous on an optional route) or ``short_circuit`` (a hook denied)."""

    SUCCESS = "success"
    FAILURE = "failure"
    NONE = "none"
    SHORT_CIRCUIT = "short_circuit"

    def __str__(self) -> str:
        return self.value


class Decision(str, enum.Enum):
    """What one hook run decided, as recorded by telemetry and the testing helper."""

    CONTINUE = "continue"
    """Returned ``None`` (or ran at a notification stage)."""
    MODIFY = "modify"
    """Returned a mapping that changed inputs or results."""
    PROVIDE = "provide"
    """Returned a result at a ``provide`` stage; the chain ended."""
    DENY = "deny"
    """Returned or raised a ``Deny``; the flow stopped."""
    SHADOW_DENY = "shadow_deny"
    """A shadow-mode (``enforce=False``) hook denied or failed closed; recorded, not enforced."""
    ERROR = "error"
    """Raised an exception (its ``on_error`` policy decided what followed)."""
    TIMEOUT = "timeout"
    """Ran past its timeout (treated as an error)."""
    SKIPPED = "skipped"
    """Its ``when=`` condition was false."""
    QUEUED = "queued"
    """Handed to the background queue."""
    DROPPED = "dropped"
    """The background queue was full; the run was dropped and counted."""

    def __str__(self) -> str:
        return self.value


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
    """What a login or refresh returns (RFC 6749 §5.1 field names)."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None
    token_type: str = "Bearer"
    scope: str | None = None

    def __repr__(self) -> str:
        return f"TokenPair(token_type={self.token_type!r}, expires_in={self.expires_in}, access_token=***)"

    def as_dict(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 JSON body."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.scope:
            body["scope"] = self.scope
        return body


@dataclass(frozen=True, slots=True)
class Event:
    """The whole, frozen picture of one hook point firing; a hook gets it by naming a parameter ``event``.

    Attributes:
        point: the hook point name (``"login.pre"``).
        flow: the flow name.
        stage: the stage name.
        data: a read-only snapshot of the inputs (and results) at the moment the hook runs.
        request: the HTTP request, when the flow runs behind the middleware.
    """

    point: str
    flow: str
    stage: str
    data: Mapping[str, Any]
    request: RequestInfo | None = None

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        """``data.get(name, default)``."""
        return self.data.get(name, default)
