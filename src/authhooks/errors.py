"""The one exception tree of authhooks.

Every exception authhooks raises derives from :class:`AuthHooksError`::

    AuthHooksError
    ├── AuthError                       a rejected credential or request; becomes an HTTP answer
    │   ├── InvalidRequest              400 invalid_request       (RFC 6750 §3.1)
    │   ├── MissingCredentials          401, bare challenge       (RFC 6750 §3.1)
    │   ├── InvalidToken                401 invalid_token         (RFC 6750 §3.1)
    │   │   ├── MalformedToken          reason malformed_token
    │   │   ├── BadSignature            reason bad_signature
    │   │   ├── BadAlgorithm            reason bad_algorithm
    │   │   ├── UnknownKey              reason unknown_key
    │   │   ├── ExpiredToken            reason token_expired
    │   │   ├── TokenNotYetValid        reason token_not_yet_valid
    │   │   ├── WrongAudience           reason wrong_audience
    │   │   ├── WrongIssuer             reason wrong_issuer
    │   │   ├── MissingClaim            reason missing_claim
    │   │   ├── WrongTokenType          reason wrong_token_type
    │   │   └── RevokedToken            reason token_revoked
    │   ├── InvalidCredentials          401, a login that did not prove the identity
    │   ├── InvalidGrant                400 invalid_grant: a refresh token that is unknown, expired or reused
    │   ├── InsufficientScope           403 insufficient_scope    (RFC 6750 §3.1)
    │   └── Deny                        a hook's refusal, any status
    │       ├── StopAuthentication      FlaskBB's way to end a login, 401
    │       └── HookFailed              a hook failed closed (error or timeout): 503, a fault
    ├── ConfigurationError              bad settings, files or registrations at start-up
    │   └── HookError                   a hook that cannot be registered or misbehaved
    ├── KeySetUnavailableError          no usable key: the JWKS endpoint is down and nothing is cached
    └── StoreError                      the state store could not be reached
        └── StoreUnavailableError

Rejections (``AuthError``) carry the RFC 6750 error code, the HTTP status and a low-cardinality ``reason`` that
telemetry records. Their message is generic and never contains token contents: the middleware may show it.
Faults (``KeySetUnavailableError``, ``StoreError``, ``HookError`` raised at run time) are not the client's
fault; telemetry marks them with span status ``Error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "AuthError",
    "AuthHooksError",
    "BadAlgorithm",
    "BadSignature",
    "ConfigurationError",
    "Deny",
    "ExpiredToken",
    "HookError",
    "HookFailed",
    "InsufficientScope",
    "InvalidCredentials",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidToken",
    "KeySetUnavailableError",
    "MalformedToken",
    "MissingClaim",
    "MissingCredentials",
    "RevokedToken",
    "StopAuthentication",
    "StoreError",
    "StoreUnavailableError",
    "TokenNotYetValid",
    "UnknownKey",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenType",
]


class AuthHooksError(Exception):
    """Root of every exception raised by authhooks."""


class AuthError(AuthHooksError):
    """A rejected credential or request, answered over HTTP.

    Attributes:
        error: the RFC 6750 §3.1 error code (``invalid_request``, ``invalid_token``, ``insufficient_scope``),
            or ``None`` for a bare challenge (no credentials were sent).
        status: the HTTP status the middleware answers with.
        reason: a low-cardinality reason recorded by telemetry and shown to the client
            (``token_expired``, ``bad_signature``…).
        description: a short, generic human-readable text; never token contents or library exception text.
    """

    error: ClassVar[str | None] = "invalid_request"
    status: ClassVar[int] = 400
    default_reason: ClassVar[str] = "invalid_request"
    default_description: ClassVar[str] = "The request is not acceptable."

    def __init__(self, description: str | None = None, *, reason: str | None = None) -> None:
        self.reason: str = reason or self.default_reason
        self.description: str = description or self.default_description
        super().__init__(self.description)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"


class InvalidRequest(AuthError):
    """The request is malformed: two credentials, a broken header or body (RFC 6750 §3.1 ``invalid_request``)."""

    error = "invalid_request"
    status = 400
    default_reason = "invalid_request"
    default_description = "The request is missing a required parameter or is otherwise malformed."


class MissingCredentials(AuthError):
    """No credentials were sent to a protected resource: a bare ``Bearer`` challenge (RFC 6750 §3.1)."""

    error = None
    status = 401
    default_reason = "missing_credentials"
    default_description = "Authentication is required."


class InvalidToken(AuthError):
    """The access token is expired, revoked, malformed or invalid (RFC 6750 §3.1 ``invalid_token``)."""

    error = "invalid_token"
    status = 401
    default_reason = "invalid_token"
    default_description = "The access token is invalid."


class MalformedToken(InvalidToken):
    """The token is not a well-formed compact JWS/JWT (RFC 7515 §7.1, RFC 7519 §7.2)."""

    default_reason = "malformed_token"
    default_description = "The access token is malformed."


class BadSignature(InvalidToken):
    """The signature does not verify with the selected key (RFC 7515 §5.2)."""

    default_reason = "bad_signature"
    default_description = "The access token signature is invalid."


class BadAlgorithm(InvalidToken):
    """The header names an algorithm the selected key does not allow, or ``none`` (RFC 8725 §3.1)."""

    default_reason = "bad_algorithm"
    default_description = "The access token algorithm is not accepted."


class UnknownKey(InvalidToken):
    """No key of the key set matches the token's ``kid``/algorithm (RFC 7515 §4.1.4)."""

    default_reason = "unknown_key"
    default_description = "The access token was signed by an unknown key."


class ExpiredToken(InvalidToken):
    """The ``exp`` time has passed, beyond the configured leeway (RFC 7519 §4.1.4)."""

    default_reason = "token_expired"
    default_description = "The access token expired."


class TokenNotYetValid(InvalidToken):
    """The ``nbf`` (or ``iat``) time lies in the future, beyond the leeway (RFC 7519 §4.1.5)."""

    default_reason = "token_not_yet_valid"
    default_description = "The access token is not valid yet."


class WrongAudience(InvalidToken):
    """The ``aud`` claim does not name this service (RFC 7519 §4.1.3)."""

    default_reason = "wrong_audience"
    default_description = "The access token is not meant for this service."


class WrongIssuer(InvalidToken):
    """The ``iss`` claim is not the configured issuer (RFC 7519 §4.1.1)."""

    default_reason = "wrong_issuer"
    default_description = "The access token was issued by an untrusted issuer."


class MissingClaim(InvalidToken):
    """A required claim is absent or has the wrong JSON type (RFC 7519 §4)."""

    default_reason = "missing_claim"
    default_description = "The access token lacks a required claim."


class WrongTokenType(InvalidToken):
    """The token's ``typ`` is not what this use expects, e.g. a refresh token used as an access token
    (RFC 8725 §3.11, RFC 9068 §2.1)."""

    default_reason = "wrong_token_type"
    default_description = "The token is not an access token."


class RevokedToken(InvalidToken):
    """The token's ``jti`` was invalidated before its expiry (RFC 7009 §2)."""

    default_reason = "token_revoked"
    default_description = "The access token was revoked."


class InvalidCredentials(AuthError):
    """A login or reauthentication did not prove the identity (bad signature, unknown subject, used challenge)."""

    error = "invalid_token"
    status = 401
    default_reason = "invalid_credentials"
    default_description = "The credentials are invalid."


class InvalidGrant(AuthError):
    """A refresh token is unknown, expired, revoked or reused (RFC 6749 §5.2 ``invalid_grant``).

    Reasons: ``refresh_token_unknown``, ``refresh_token_expired``, ``refresh_token_reused`` (the whole family
    was revoked), ``refresh_token_revoked``.
    """

    error = "invalid_grant"
    status = 400
    default_reason = "invalid_grant"
    default_description = "The refresh token is invalid."


class InsufficientScope(AuthError):
    """The token is valid but lacks the scopes the resource needs (RFC 6750 §3.1 ``insufficient_scope``).

    Attributes:
        required_scopes: the scopes the resource needs; sent in the ``scope`` attribute of the challenge.
    """

    error = "insufficient_scope"
    status = 403
    default_reason = "insufficient_scope"
    default_description = "The access token does not grant the required scope."

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = None,
        required_scopes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(description, reason=reason)
        self.required_scopes = tuple(required_scopes)


class Deny(AuthError):
    """A refusal from a hook: return or raise it to stop the flow and answer at once.

    Args:
        status: the HTTP status of the answer (default 403).
        reason: a low-cardinality reason (``rate_limited``, ``mfa_required``…) recorded by telemetry.
        headers: extra response headers, e.g. ``{"Retry-After": "30"}``.
        body: a response body (``bytes``/``str``/JSON-able mapping); by default the error format's body.
        description: a human-readable text for the default body.

    A ``Deny`` is a rejection, not a fault: the flow's span keeps status ``Unset`` and its outcome is
    ``short_circuit``.
    """

    error = "access_denied"
    status = 403
    default_reason = "denied"
    default_description = "The request was denied."

    def __init__(
        self,
        status: int | None = None,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(description, reason=reason)
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"Deny status must be a 4xx or 5xx code, not {status}")
        self.status = status if status is not None else type(self).status  # type: ignore[misc]
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, reason={self.reason!r})"


class StopAuthentication(Deny):
    """End a login with a reason (FlaskBB's ``StopAuthentication``): a 401 denial.

    Args:
        reason: why the login stops (``account_locked``…); recorded and sent to the client.
    """

    default_reason = "authentication_stopped"
    default_description = "Authentication was stopped."

    def __init__(
        self,
        reason: str | None = None,
        *,
        status: int = 401,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers, body=body, description=description)


class HookFailed(Deny):
    """A hook raised or timed out under the ``deny`` policy (fail closed): answered with 503.

    This is a fault, not the client's doing: telemetry sets span status ``Error`` with ``error.type``
    ``hook_error`` or ``hook_timeout``. The response says only that the service could not decide.

    Attributes:
        hook: the failing hook's name.
        cause: the exception the hook raised (``TimeoutError`` for a timeout); never shown to the client.
    """

    default_reason = "hook_error"
    default_description = "The service could not complete the authentication check."

    def __init__(self, hook: str, error: BaseException, *, timeout: bool = False) -> None:
        super().__init__(status=503, reason="hook_timeout" if timeout else "hook_error")
        self.hook = hook
        self.cause = error


class ConfigurationError(AuthHooksError):
    """Settings, a file or a registration is wrong; raised at start-up, naming the variable/file and line."""


class HookError(ConfigurationError):
    """A hook cannot be registered (unknown point or parameter, ordering cycle) or misbehaved at run time
    (returned a name it may not change, an async hook under the sync driver)."""


class KeySetUnavailableError(AuthHooksError):
    """No usable verification key: the key endpoint is unreachable and nothing usable is cached (a fault)."""


class StoreError(AuthHooksError):
    """The state store failed (a fault, not a rejection)."""


class StoreUnavailableError(StoreError):
    """The state store could not be reached within the bounded wait."""
