"""The vocabulary of flows: ``Flow``, ``Stage``, ``Outcome`` and ``Decision`` enums, and ``Event``, the frozen
record a hook receives.

``Principal``, ``TokenPair`` and ``RequestInfo`` live in the base module :mod:`authhooks.records` (the token layer
uses them without the hook vocabulary); they are re-exported here for compatibility.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authhooks.records import Principal, RequestInfo, TokenPair

__all__ = ["Decision", "Event", "Flow", "Outcome", "Principal", "RequestInfo", "Stage", "TokenPair"]


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
    OAUTH_AUTHORIZE = "oauth_authorize"
    OAUTH_CALLBACK = "oauth_callback"
    OAUTH_EXCHANGE = "oauth_exchange"
    OAUTH_REFRESH = "oauth_refresh"
    SESSION = "session"

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
