"""The exception tree: one root, RFC 6750 codes, statuses and reasons per class, reprs without text."""

from __future__ import annotations

import pytest

import authhooks
import authhooks.errors as errors
from authhooks import (
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

REJECTIONS = [
    (InvalidRequest, 400, "invalid_request", "invalid_request"),
    (MissingCredentials, 401, None, "missing_credentials"),
    (InvalidToken, 401, "invalid_token", "invalid_token"),
    (MalformedToken, 401, "invalid_token", "malformed_token"),
    (BadSignature, 401, "invalid_token", "bad_signature"),
    (BadAlgorithm, 401, "invalid_token", "bad_algorithm"),
    (UnknownKey, 401, "invalid_token", "unknown_key"),
    (ExpiredToken, 401, "invalid_token", "token_expired"),
    (TokenNotYetValid, 401, "invalid_token", "token_not_yet_valid"),
    (WrongAudience, 401, "invalid_token", "wrong_audience"),
    (WrongIssuer, 401, "invalid_token", "wrong_issuer"),
    (MissingClaim, 401, "invalid_token", "missing_claim"),
    (WrongTokenType, 401, "invalid_token", "wrong_token_type"),
    (RevokedToken, 401, "invalid_token", "token_revoked"),
    (InvalidCredentials, 401, "invalid_token", "invalid_credentials"),
    (InsufficientScope, 403, "insufficient_scope", "insufficient_scope"),
    (Deny, 403, "access_denied", "denied"),
]

TOKEN_TEXT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def test_every_exported_exception_derives_from_the_root() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert {cls for cls, *_ in REJECTIONS} <= set(classes)
    for cls in classes:
        assert issubclass(cls, AuthHooksError), cls
        assert getattr(authhooks, cls.__name__) is cls  # and each is public


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (AuthError, AuthHooksError),
        (InvalidToken, AuthError),
        (ExpiredToken, InvalidToken),
        (RevokedToken, InvalidToken),
        (InsufficientScope, AuthError),
        (Deny, AuthError),
        (StopAuthentication, Deny),
        (HookFailed, Deny),
        (ConfigurationError, AuthHooksError),
        (HookError, ConfigurationError),
        (KeySetUnavailableError, AuthHooksError),
        (StoreUnavailableError, StoreError),
        (StoreError, AuthHooksError),
    ],
)
def test_tree(cls: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(cls, parent)


@pytest.mark.parametrize(
    "cls", [ConfigurationError, HookError, KeySetUnavailableError, StoreError, StoreUnavailableError]
)
def test_faults_are_not_rejections(cls: type[Exception]) -> None:
    assert not issubclass(cls, AuthError)


@pytest.mark.parametrize(("cls", "status", "error", "reason"), REJECTIONS, ids=lambda v: getattr(v, "__name__", None))
def test_status_error_and_reason(cls: type[AuthError], status: int, error: str | None, reason: str) -> None:
    exc = cls()
    assert exc.status == status
    assert exc.error == error
    assert exc.reason == reason
    assert exc.description  # a generic default text
    assert str(exc) == exc.description


@pytest.mark.parametrize(("cls", "status", "error", "reason"), REJECTIONS, ids=lambda v: getattr(v, "__name__", None))
def test_reason_and_description_can_be_given(cls: type[AuthError], status: int, error: str | None, reason: str) -> None:
    exc = cls("custom text", reason="custom_reason") if cls is not Deny else Deny(reason="custom_reason")
    assert exc.reason == "custom_reason"
    assert exc.status == status


@pytest.mark.parametrize(("cls", "status", "error", "reason"), REJECTIONS, ids=lambda v: getattr(v, "__name__", None))
def test_repr_never_includes_the_description(cls: type[AuthError], status: int, error: str | None, reason: str) -> None:
    exc = Deny(description=f"token {TOKEN_TEXT}") if cls is Deny else cls(f"token {TOKEN_TEXT}")
    assert TOKEN_TEXT not in repr(exc)
    assert cls.__name__ in repr(exc)
    assert reason in repr(exc)


def test_insufficient_scope_carries_required_scopes() -> None:
    exc = InsufficientScope(required_scopes=["read:items", "write:items"])  # type: ignore[arg-type]
    assert exc.required_scopes == ("read:items", "write:items")
    assert InsufficientScope().required_scopes == ()


def test_deny_defaults_and_response_parts() -> None:
    deny = Deny()
    assert (deny.status, deny.reason, deny.headers, deny.body) == (403, "denied", {}, None)
    custom = Deny(status=429, reason="rate_limited", headers={"Retry-After": "60"}, body=b"slow down")
    assert (custom.status, custom.reason, custom.headers, custom.body) == (
        429,
        "rate_limited",
        {"Retry-After": "60"},
        b"slow down",
    )
    assert Deny.status == 403  # an instance's status does not leak into the class
    assert repr(custom) == "Deny(status=429, reason='rate_limited')"


@pytest.mark.parametrize("status", [200, 302, 399, 600, 0, -403])
def test_deny_refuses_a_status_that_is_not_an_error(status: int) -> None:
    with pytest.raises(ValueError, match=str(status)):
        Deny(status=status)
    with pytest.raises(ValueError, match=str(status)):
        StopAuthentication("x", status=status)


@pytest.mark.parametrize("status", [400, 401, 429, 451, 503, 599])
def test_deny_accepts_4xx_and_5xx(status: int) -> None:
    assert Deny(status=status).status == status


def test_stop_authentication() -> None:
    stop = StopAuthentication("account_locked")
    assert isinstance(stop, Deny)
    assert (stop.status, stop.reason) == (401, "account_locked")
    assert StopAuthentication().reason == "authentication_stopped"
    assert StopAuthentication("mfa_required", status=403, headers={"X-MFA": "totp"}).headers == {"X-MFA": "totp"}
    assert "account_locked" in repr(stop)


def test_hook_failed() -> None:
    cause = RuntimeError(f"db said {TOKEN_TEXT}")
    failed = HookFailed("rate_limit", cause)
    assert (failed.status, failed.reason, failed.hook, failed.cause) == (503, "hook_error", "rate_limit", cause)
    assert HookFailed("slow", TimeoutError(), timeout=True).reason == "hook_timeout"
    assert TOKEN_TEXT not in str(failed)  # the cause's text never reaches the client-facing message
    assert TOKEN_TEXT not in repr(failed)
