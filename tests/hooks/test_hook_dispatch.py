"""What hooks' returns and failures do to a flow: decisions, provide chains, notifications, error policies,
timeouts, conditions, shadow mode and async hooks under the sync driver — through both drivers, with and
without observers attached."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from authhooks import AuthHooks, Deny, FireResult, HookError, HookFailed, StopAuthentication
from authhooks.testing import HookRecorder

Fire = Callable[..., Awaitable[FireResult]]

# Generous: a timed-out call must come back near its timeout, not after the hook finishes (5 s).
MARGIN = 1.0


# -- decision points ------------------------------------------------------------------------------------------


async def test_none_continues_unchanged(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.add_hook("login.pre", lambda: ran.append("a"))
    auth.add_hook("login.pre", lambda: ran.append("b"))
    result = await fire(auth, "login.pre", subject="alice", credentials="pw", scheme="password")
    assert ran == ["a", "b"]
    assert dict(result.values) == {"subject": "alice", "credentials": "pw", "scheme": "password"}
    assert result.result is None


async def test_mapping_updates_inputs_and_next_hook_sees_it(auth: AuthHooks, fire: Fire) -> None:
    """Joken's chain: a before hook's output is the next hook's input."""
    seen: list[dict[str, Any]] = []

    def add_role(claims: dict[str, Any]) -> dict[str, Any]:
        return {"claims": {**claims, "role": "admin"}}

    def shorten(claims: dict[str, Any], ttl_seconds: int) -> dict[str, Any]:
        seen.append(dict(claims))
        return {"ttl_seconds": ttl_seconds // 2}

    def watch(claims: dict[str, Any], ttl_seconds: int) -> None:
        seen.append({"ttl": ttl_seconds})

    auth.add_hook("before_generate", add_role)
    auth.add_hook("before_sign", shorten)
    auth.add_hook("issue_token.pre", watch)
    result = await fire(auth, "issue_token.pre", subject="alice", claims={"sub": "alice"}, ttl_seconds=900)
    assert seen == [{"sub": "alice", "role": "admin"}, {"ttl": 450}]
    assert result.values["claims"] == {"sub": "alice", "role": "admin"}
    assert result.values["ttl_seconds"] == 450
    assert result.values["subject"] == "alice"


async def test_unknown_name_in_mapping_raises_under_raise_policy(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.pre", lambda: {"username": "x"}, on_error="raise", name="typo")
    with pytest.raises(HookError, match="username"):
        await fire(auth, "login.pre", subject="alice")


async def test_unknown_name_in_mapping_fails_closed_by_default(auth: AuthHooks, fire: Fire) -> None:
    later: list[str] = []
    auth.add_hook("login.pre", lambda: {"username": "x"}, name="typo")
    auth.add_hook("login.pre", lambda: later.append("ran"))
    with pytest.raises(HookFailed) as info:
        await fire(auth, "login.pre", subject="alice")
    assert info.value.status == 503
    assert info.value.reason == "hook_error"
    assert info.value.hook == "typo"
    assert isinstance(info.value.cause, HookError)
    assert later == []


async def test_input_that_is_not_mutable_is_refused(auth: AuthHooks, fire: Fire) -> None:
    # login.verified lets hooks change claims, scopes and the subject (a link), not the principal it was given
    auth.add_hook("login.verified", lambda: {"principal": None}, on_error="raise")
    with pytest.raises(HookError, match="principal"):
        await fire(auth, "login.verified", subject="alice", claims={}, scopes=())


async def test_unknown_name_under_ignore_continues_unchanged(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.pre", lambda: {"subject": "bob", "username": "x"}, on_error="ignore")
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "alice"  # nothing of a refused mapping is applied


@pytest.mark.parametrize("how", ["return", "raise"])
async def test_deny_stops_the_chain_and_keeps_its_response(auth: AuthHooks, fire: Fire, how: str) -> None:
    later: list[str] = []
    denial = Deny(status=429, reason="rate_limited", headers={"Retry-After": "30"}, body={"detail": "slow down"})

    def rate_limit(subject: str) -> Deny:
        if how == "raise":
            raise denial
        return denial

    auth.add_hook("challenge.pre", rate_limit)
    auth.add_hook("challenge.pre", lambda: later.append("ran"))
    with pytest.raises(Deny) as info:
        await fire(auth, "challenge.pre", subject="alice")
    assert info.value is denial
    assert info.value.status == 429
    assert info.value.reason == "rate_limited"
    assert info.value.headers == {"Retry-After": "30"}
    assert info.value.body == {"detail": "slow down"}
    assert later == []


@pytest.mark.parametrize("how", ["return", "raise"])
async def test_stop_authentication_ends_a_login(auth: AuthHooks, fire: Fire, how: str) -> None:
    later: list[str] = []

    def locked(subject: str) -> StopAuthentication | None:
        if subject == "mallory":
            stop = StopAuthentication("account_locked", headers={"X-Locked": "1"})
            if how == "raise":
                raise stop
            return stop
        return None

    auth.add_hook("post_authenticate", locked)
    auth.add_hook("post_authenticate", lambda: later.append("ran"))
    await fire(auth, "login.verified", subject="alice")
    assert later == ["ran"]
    with pytest.raises(StopAuthentication) as info:
        await fire(auth, "login.verified", subject="mallory")
    assert (info.value.status, info.value.reason, info.value.headers) == (401, "account_locked", {"X-Locked": "1"})
    assert later == ["ran"]


@pytest.mark.parametrize("returned", ["denied", 42, ["subject"], True])
async def test_non_mapping_return_at_a_decision_point_is_an_error(
    auth: AuthHooks, fire: Fire, returned: object
) -> None:
    auth.add_hook("login.pre", lambda: returned, name="sloppy")
    with pytest.raises(HookFailed) as info:
        await fire(auth, "login.pre", subject="alice")
    assert info.value.reason == "hook_error"
    auth.remove_hook(name="sloppy")
    auth.add_hook("login.pre", lambda: returned, name="sloppy", on_error="raise")
    with pytest.raises(HookError, match="sloppy"):
        await fire(auth, "login.pre", subject="alice")


async def test_exception_at_a_decision_point_fails_closed(auth: AuthHooks, fire: Fire) -> None:
    def broken(claims: dict[str, Any]) -> None:
        raise KeyError(claims["sub"])

    auth.add_hook("validate_token.post", broken)
    with pytest.raises(HookFailed) as info:
        await fire(auth, "validate_token.post", token="t", principal=None, claims={})
    assert info.value.status == 503
    assert info.value.reason == "hook_error"
    assert isinstance(info.value.cause, KeyError)


async def test_raise_policy_propagates_the_hooks_own_exception(auth: AuthHooks, fire: Fire) -> None:
    class LdapDown(RuntimeError):
        pass

    def lookup() -> None:
        raise LdapDown("ldap unreachable")

    auth.add_hook("login.pre", lookup, on_error="raise")
    with pytest.raises(LdapDown):
        await fire(auth, "login.pre", subject="alice")


async def test_ignore_policy_at_a_decision_point_continues(auth: AuthHooks, fire: Fire) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    auth.add_hook("login.pre", broken, on_error="ignore")
    auth.add_hook("login.pre", lambda subject: {"subject": subject.upper()})
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "ALICE"


# -- provide chains -------------------------------------------------------------------------------------------


async def test_first_non_none_provider_wins(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []

    def ldap(subject: str) -> None:
        ran.append("ldap")

    def database(subject: str, credentials: str) -> str | None:
        ran.append("database")
        return f"user:{subject}" if credentials == "pw" else None

    def fallback(subject: str) -> str:
        ran.append("fallback")
        return "anonymous"

    auth.add_hook("authenticate", ldap)
    auth.add_hook("authenticate", database)
    auth.add_hook("authenticate", fallback, trylast=True)
    result = await fire(auth, "login.provide", subject="alice", credentials="pw")
    assert result.result == "user:alice"
    assert ran == ["ldap", "database"]
    ran.clear()
    result = await fire(auth, "login.provide", subject="alice", credentials="wrong")
    assert result.result == "anonymous"
    assert ran == ["ldap", "database", "fallback"]


async def test_falsy_but_not_none_provider_result_wins(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.add_hook("reauth_attempt", lambda: False)
    auth.add_hook("reauth_attempt", lambda: ran.append("later"))
    result = await fire(auth, "reauthenticate.provide", principal=None)
    assert result.result is False
    assert ran == []


async def test_no_provider_result_is_none(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.provide", lambda: None)
    auth.add_hook("login.provide", lambda: None)
    assert (await fire(auth, "login.provide", subject="alice")).result is None
    assert (await fire(auth, "reauthenticate.provide")).result is None


async def test_provider_can_deny(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.add_hook("login.provide", lambda: StopAuthentication("banned"))
    auth.add_hook("login.provide", lambda: ran.append("later"))
    with pytest.raises(StopAuthentication) as info:
        await fire(auth, "login.provide", subject="alice")
    assert info.value.reason == "banned"
    assert ran == []


# -- notification points --------------------------------------------------------------------------------------


async def test_notification_returns_are_ignored(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.add_hook("login.post", lambda: {"subject": "mallory"})
    auth.add_hook("login.post", lambda: "a principal")
    auth.add_hook("login.post", lambda: Deny(reason="too_late"))
    auth.add_hook("login.post", lambda subject: ran.append(subject))
    result = await fire(auth, "login.post", subject="alice")
    assert ran == ["alice"]
    assert result.values["subject"] == "alice"
    assert result.result is None


async def test_notification_hook_raising_deny_does_not_stop_the_others(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []

    def too_late() -> None:
        raise Deny(reason="too_late")

    auth.add_hook("login.post", too_late)
    auth.add_hook("login.post", lambda: ran.append("audit"))
    await fire(auth, "login.post", subject="alice")
    assert ran == ["audit"]


SECRET = "hunter2-s3cr3t-credential"


def _leaky_mail_hook(subject: str) -> None:
    raise ValueError(f"mail relay refused the password {SECRET} of {subject}")


async def test_notification_error_is_ignored_and_logged_without_its_message(
    auth: AuthHooks, fire: Fire, caplog: pytest.LogCaptureFixture
) -> None:
    """Ignored by default and logged with the hook's name and the exception type, never the exception text
    (which may quote a credential)."""
    ran: list[str] = []
    auth.add_hook("login.failed", _leaky_mail_hook, name="send_mail")
    auth.add_hook("login.failed", lambda: ran.append("next"))
    caplog.set_level(logging.WARNING, logger="authhooks")
    await fire(auth, "login.failed", subject="alice", reason="bad_signature")
    assert ran == ["next"]
    assert "send_mail" in caplog.text
    assert "ValueError" in caplog.text
    assert SECRET not in caplog.text


async def test_hook_error_message_stays_out_of_debug_logs(fire: Fire, caplog: pytest.LogCaptureFixture) -> None:
    """style.md: no secret reaches a log line — turning on debug logging must not print the hook's exception
    text (dispatch.py says so itself: 'Only the exception type is logged')."""
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.failed", _leaky_mail_hook, name="send_mail")
    caplog.set_level(logging.DEBUG, logger="authhooks")
    await fire(auth, "login.failed", subject="alice", reason="bad_signature")
    assert "send_mail" in caplog.text
    assert SECRET not in caplog.text


async def test_raise_policy_propagates_at_notification_point(auth: AuthHooks, fire: Fire) -> None:
    def broken() -> None:
        raise ConnectionError("webhook down")

    auth.add_hook("login.post", broken, on_error="raise")
    with pytest.raises(ConnectionError):
        await fire(auth, "login.post", subject="alice")


async def test_deny_policy_at_notification_point_fails_closed(auth: AuthHooks, fire: Fire) -> None:
    def broken() -> None:
        raise ConnectionError("audit sink down")

    auth.add_hook("login.post", broken, on_error="deny", name="audit")
    with pytest.raises(HookFailed) as info:
        await fire(auth, "login.post", subject="alice")
    assert info.value.hook == "audit"


@pytest.mark.parametrize("point", ["login.post", "login.pre", "login.provide"])
async def test_propagate_hook_errors_makes_every_hook_raise(fire: Fire, point: str) -> None:
    """Evrmore's propagate_hook_errors: even an explicit on_error is overridden."""
    auth = AuthHooks(store_url="memory://", propagate_hook_errors=True)

    def broken() -> None:
        raise LookupError("nope")

    auth.add_hook(point, broken, on_error="ignore")
    with pytest.raises(LookupError):
        await fire(auth, point, subject="alice")


async def test_propagate_hook_errors_from_the_environment(fire: Fire, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHHOOKS_PROPAGATE_HOOK_ERRORS", "true")
    auth = AuthHooks(store_url="memory://")

    def broken() -> None:
        raise LookupError("nope")

    auth.add_hook("login.post", broken)
    with pytest.raises(LookupError):
        await fire(auth, "login.post", subject="alice")


# -- timeouts -------------------------------------------------------------------------------------------------


async def _fire_in(mode: str, auth: AuthHooks, point: str, **inputs: Any) -> FireResult:
    return auth.sync.fire(point, **inputs) if mode == "sync" else await auth.fire(point, **inputs)


@contextlib.contextmanager
def stuck_hook(kind: str) -> Iterator[Callable[..., Any]]:
    """A hook that runs far past any test timeout; a sync one is released on exit so its thread ends."""
    release = threading.Event()

    def slow_lookup(subject: str) -> dict[str, str]:
        release.wait(5)
        return {"subject": "from-slow-hook"}

    async def slow_async_lookup(subject: str) -> dict[str, str]:
        await asyncio.sleep(5)
        return {"subject": "from-slow-hook"}

    try:
        yield slow_lookup if kind == "sync" else slow_async_lookup
    finally:
        release.set()


# (driver, hook kind): an async hook cannot run under the sync driver at all (tested below).
DRIVER_AND_KIND = [("sync", "sync"), ("async", "sync"), ("async", "async")]


@pytest.mark.parametrize(("mode", "kind"), DRIVER_AND_KIND)
async def test_timeout_fails_closed_under_deny(auth: AuthHooks, mode: str, kind: str) -> None:
    later: list[str] = []
    with stuck_hook(kind) as slow:
        auth.add_hook("login.pre", slow, timeout=0.2, name="slow")
        auth.add_hook("login.pre", lambda: later.append("ran"))
        started = time.perf_counter()
        with pytest.raises(HookFailed) as info:
            await _fire_in(mode, auth, "login.pre", subject="alice")
        assert time.perf_counter() - started < 0.2 + MARGIN
    assert info.value.status == 503
    assert info.value.reason == "hook_timeout"
    assert info.value.hook == "slow"
    assert later == []


@pytest.mark.parametrize(("mode", "kind"), DRIVER_AND_KIND)
async def test_timeout_is_skipped_under_ignore(auth: AuthHooks, mode: str, kind: str) -> None:
    later: list[str] = []
    with stuck_hook(kind) as slow:
        auth.add_hook("login.pre", slow, timeout=0.2, on_error="ignore")
        auth.add_hook("login.pre", lambda: later.append("ran"))
        started = time.perf_counter()
        result = await _fire_in(mode, auth, "login.pre", subject="alice")
        assert time.perf_counter() - started < 0.2 + MARGIN
    assert result.values["subject"] == "alice"  # the late hook's change never lands
    assert later == ["ran"]


@pytest.mark.parametrize(("mode", "kind"), DRIVER_AND_KIND)
async def test_timeout_raises_hook_error_under_raise(auth: AuthHooks, mode: str, kind: str) -> None:
    with stuck_hook(kind) as slow:
        auth.add_hook("login.pre", slow, timeout=0.2, on_error="raise", name="slow")
        started = time.perf_counter()
        with pytest.raises(HookError, match="timed out"):
            await _fire_in(mode, auth, "login.pre", subject="alice")
        assert time.perf_counter() - started < 0.2 + MARGIN


@pytest.mark.parametrize(("mode", "kind"), DRIVER_AND_KIND)
async def test_timeout_at_notification_point_is_ignored(auth: AuthHooks, mode: str, kind: str) -> None:
    later: list[str] = []
    with stuck_hook(kind) as slow:
        auth.add_hook("login.post", slow, timeout=0.2)
        auth.add_hook("login.post", lambda: later.append("ran"))
        started = time.perf_counter()
        await _fire_in(mode, auth, "login.post", subject="alice")
        assert time.perf_counter() - started < 0.2 + MARGIN
    assert later == ["ran"]


async def test_fast_hook_with_timeout_applies_its_change(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.pre", lambda subject: {"subject": subject.strip()}, timeout=2.0)
    assert (await fire(auth, "login.pre", subject="  alice ")).values["subject"] == "alice"


async def test_default_hook_timeout_from_settings(fire: Fire) -> None:
    auth = AuthHooks(store_url="memory://", hook_timeout_seconds=0.2)
    with stuck_hook("sync") as slow:
        impl = auth.add_hook("login.pre", slow)
        assert impl.timeout == 0.2
        own = auth.add_hook("login.post", lambda: None, timeout=3.0)
        assert own.timeout == 3.0  # an explicit timeout wins
        started = time.perf_counter()
        with pytest.raises(HookFailed) as info:
            await fire(auth, "login.pre", subject="alice")
        assert time.perf_counter() - started < 0.2 + MARGIN
    assert info.value.reason == "hook_timeout"


# -- conditions -----------------------------------------------------------------------------------------------


async def test_when_condition_with_named_parameters(auth: AuthHooks, fire: Fire) -> None:
    def only_admins(subject: str, point: str) -> bool:
        return subject.startswith("admin") and point == "login.pre"

    auth.add_hook("login.pre", lambda: Deny(reason="admin_needs_mfa"), when=only_admins)
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "alice"
    with pytest.raises(Deny) as info:
        await fire(auth, "login.pre", subject="admin-bob")
    assert info.value.reason == "admin_needs_mfa"


async def test_when_sees_inputs_changed_by_earlier_hooks(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.add_hook("login.pre", lambda subject: {"subject": subject.lower()})
    auth.add_hook("login.pre", lambda: ran.append("ran"), when=lambda subject: subject == "alice")
    await fire(auth, "login.pre", subject="ALICE")
    assert ran == ["ran"]


async def test_async_condition_in_the_async_path(auth: AuthHooks) -> None:
    ran: list[str] = []

    async def is_flagged(subject: str) -> bool:
        await asyncio.sleep(0)
        return subject == "mallory"

    auth.add_hook("login.post", lambda subject: ran.append(subject), when=is_flagged)
    await auth.fire("login.post", subject="alice")
    await auth.fire("login.post", subject="mallory")
    assert ran == ["mallory"]
    assert auth.has_async_hooks()


async def test_async_condition_under_the_sync_path_fails_per_policy(auth: AuthHooks) -> None:
    async def is_flagged(subject: str) -> bool:
        return True

    auth.add_hook("login.pre", lambda: None, when=is_flagged, name="flagged")
    with pytest.raises(HookFailed) as info:
        auth.sync.fire("login.pre", subject="alice")
    assert info.value.hook == "flagged"


async def test_condition_that_raises_follows_the_policy(auth: AuthHooks, fire: Fire) -> None:
    def broken(subject: str) -> bool:
        raise RuntimeError("condition broke")

    auth.add_hook("login.pre", lambda: None, when=broken)
    with pytest.raises(HookFailed):
        await fire(auth, "login.pre", subject="alice")


# -- shadow mode ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["return", "raise"])
async def test_shadow_denial_is_not_enforced(fire: Fire, hook_recorder: Any, how: str) -> None:
    auth = AuthHooks(store_url="memory://")
    later: list[str] = []

    def new_geo_rule() -> Deny:
        denial = Deny(reason="unusual_country")
        if how == "raise":
            raise denial
        return denial

    auth.add_hook("login.pre", new_geo_rule, enforce=False, name="geo")
    auth.add_hook("login.pre", lambda: later.append("ran"), name="after")
    recorder: HookRecorder = hook_recorder(auth)
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "alice"
    assert later == ["ran"]
    record = recorder.last("geo")
    assert record.decision.value == "shadow_deny"
    assert record.reason == "unusual_country"
    assert record.enforced is False
    assert [(flow, str(outcome), reason) for flow, outcome, reason in recorder.outcomes()] == [
        ("login", "success", None)
    ]


async def test_shadow_denial_is_not_enforced_without_observers(fire: Fire) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.pre", lambda: Deny(reason="x"), enforce=False)
    assert (await fire(auth, "login.pre", subject="alice")).values["subject"] == "alice"


async def test_shadow_modifications_are_not_applied(auth: AuthHooks, fire: Fire) -> None:
    seen: list[str] = []
    auth.add_hook("login.pre", lambda: {"subject": "rewritten"}, enforce=False)
    auth.add_hook("login.pre", lambda subject: seen.append(subject))
    result = await fire(auth, "login.pre", subject="alice")
    assert seen == ["alice"]
    assert result.values["subject"] == "alice"


async def test_shadow_provider_does_not_provide(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.provide", lambda: "shadow-user", enforce=False)
    auth.add_hook("login.provide", lambda: "real-user")
    assert (await fire(auth, "login.provide", subject="alice")).result == "real-user"


async def test_shadow_hook_failing_closed_is_not_enforced(fire: Fire, hook_recorder: Any) -> None:
    auth = AuthHooks(store_url="memory://")

    def broken() -> None:
        raise RuntimeError("new rule crashed")

    auth.add_hook("login.pre", broken, enforce=False, name="trial")
    recorder: HookRecorder = hook_recorder(auth)
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "alice"
    assert recorder.decisions("trial") == ["shadow_deny"]
    assert recorder.last("trial").reason == "hook_error"


# -- async hooks and the sync driver --------------------------------------------------------------------------


async def test_async_hooks_run_under_the_async_path(auth: AuthHooks) -> None:
    async def lookup(subject: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"subject": f"{subject}@example.org"}

    async def provider(subject: str) -> str:
        return f"user:{subject}"

    auth.add_hook("login.pre", lookup)
    auth.add_hook("login.provide", provider)
    assert (await auth.fire("login.pre", subject="alice")).values["subject"] == "alice@example.org"
    assert (await auth.fire("login.provide", subject="alice")).result == "user:alice"


async def test_async_hook_under_the_sync_path_fails_closed_at_a_decision_point(auth: AuthHooks) -> None:
    async def lookup(subject: str) -> None:
        return None

    auth.add_hook("login.pre", lookup, name="lookup")
    with pytest.raises(HookFailed) as info:
        auth.sync.fire("login.pre", subject="alice")
    assert info.value.status == 503
    assert info.value.hook == "lookup"
    assert isinstance(info.value.cause, HookError)


async def test_async_hook_under_the_sync_path_is_ignored_at_a_notification_point(auth: AuthHooks) -> None:
    ran: list[str] = []

    async def notify() -> None:
        ran.append("async")

    auth.add_hook("login.post", notify)
    auth.add_hook("login.post", lambda: ran.append("sync"))
    auth.sync.fire("login.post", subject="alice")
    assert ran == ["sync"]


async def test_async_hook_under_the_sync_path_raises_under_raise(auth: AuthHooks) -> None:
    async def lookup() -> None:
        return None

    auth.add_hook("login.pre", lookup, on_error="raise")
    with pytest.raises(
        HookError,
        match=r"cannot run under the sync API \(auth.sync / WSGI\); register a sync hook or call the async API",
    ):
        auth.sync.fire("login.pre", subject="alice")


def test_has_async_hooks() -> None:
    auth = AuthHooks(store_url="memory://")
    assert not auth.has_async_hooks()
    auth.add_hook("login.pre", lambda: None)
    assert not auth.has_async_hooks()

    async def notify() -> None:
        return None

    class AsyncCallable:
        async def __call__(self) -> None:
            return None

    auth.add_hook("login.post", notify)
    assert auth.has_async_hooks()
    auth.remove_hook(notify)
    assert not auth.has_async_hooks()
    auth.add_hook("login.post", AsyncCallable())
    assert auth.has_async_hooks()
    auth.remove_hook("login.post")
    assert not auth.has_async_hooks()

    async def condition() -> bool:
        return True

    auth.add_hook("login.post", lambda: None, when=condition)
    assert auth.has_async_hooks()
