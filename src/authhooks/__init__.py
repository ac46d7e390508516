"""authhooks: extensible, observable and strict authentication for ASGI and WSGI apps.

The public API is what ``__all__`` lists; everything else is private (``_x`` modules) or lives in a
sub-package named in the docs (``authhooks.stores``, ``authhooks.testing``, ``authhooks.integrations.*``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from authhooks._auth import AuthHooks, FireResult
from authhooks._redact import install_redacting_filter
from authhooks.config import Secret, Settings
from authhooks.errors import (
    AuthError,
    AuthHooksError,
    BadAlgorithm,
    BadSignature,
    ConfigurationError,
    Deny,
    ExpiredToken,
    HookError,
    HookFailed,
    InsufficientScope,
    InvalidCredentials,
    InvalidGrant,
    InvalidRequest,
    InvalidToken,
    KeySetUnavailableError,
    MalformedToken,
    MissingClaim,
    MissingCredentials,
    RevokedToken,
    StopAuthentication,
    StoreError,
    StoreUnavailableError,
    TokenNotYetValid,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from authhooks.events import Decision, Event, Flow, Outcome, Stage
from authhooks.hooks.observer import FlowRun, HookRecord, Observer
from authhooks.hooks.points import HookPoint, PointKind
from authhooks.hooks.registry import HookImpl
from authhooks.records import Principal, RequestInfo, TokenPair

try:
    __version__ = version("authhooks")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

# Every record of an ``authhooks.*`` logger, including one a hook module creates later, is scrubbed of tokens.
install_redacting_filter()

__all__ = [
    "AuthError",
    "AuthHooks",
    "AuthHooksError",
    "BadAlgorithm",
    "BadSignature",
    "ConfigurationError",
    "Decision",
    "Deny",
    "Event",
    "ExpiredToken",
    "FireResult",
    "Flow",
    "FlowRun",
    "HookError",
    "HookFailed",
    "HookImpl",
    "HookPoint",
    "HookRecord",
    "InsufficientScope",
    "InvalidCredentials",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidToken",
    "KeySetUnavailableError",
    "MalformedToken",
    "MissingClaim",
    "MissingCredentials",
    "Observer",
    "Outcome",
    "PointKind",
    "Principal",
    "RequestInfo",
    "RevokedToken",
    "Secret",
    "Settings",
    "Stage",
    "StopAuthentication",
    "StoreError",
    "StoreUnavailableError",
    "TokenNotYetValid",
    "TokenPair",
    "UnknownKey",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenType",
    "__version__",
]
