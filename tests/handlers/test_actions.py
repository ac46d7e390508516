"""The built-in actions under the async API and the sync API: deny, log, add_claims, rate_limit (on every store,
shared by two instances), lockout, python; handler options shared with hooks: ordering with Python hooks, shadow
mode, on_error, enable/disable at run time."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny, RequestInfo
from authhooks.errors import AuthError, HookFailed

from .conftest import make_auth


def _deny(**options: Any) -> dict[str, Any]:
    return {"handler": [{"name": "gate", "event": "challenge.pre", "action": "deny", **options}]}


async def test_deny_async_and_sync(tmp_path: Path) -> None:
    spec = _deny(options={"status": 451, "reason": "geo_blocked", "headers": {"Link": "<https://example.test>"}})
    spec["handler"][0]["conditions"] = {"subject": "^mallory"}
    auth = make_auth(tmp_path, spec)
    with pytest.raises(Deny) as denied:
        await auth.generate_challenge("mallory")
    assert (denied.value.status, denied.value.reason, denied.value.headers) == (
        451,
        "geo_blocked",
        {"Link": "<https://example.test>"},
    )
    await auth.generate_challenge("alice")  # condition false: the handler is skipped
    with pytest.raises(Deny):
        await asyncio.to_thread(auth.sync.generate_challenge, "mallory")


def test_log_prints_the_safe_summary_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = {
        "handler": [
            {
                "name": "audit-login",
                "event": "issue_token.post",
                "action": "log",
                "options": {"template": "{handler} {point} {outcome} {subject} {token_type}", "level": "warning"},
            }
        ]
    }
    auth = make_auth(tmp_path, spec)
    with caplog.at_level(logging.INFO, logger="authhooks.handlers"):
        pair = auth.sync.issue_tokens("alice")
    lines = [r for r in caplog.records if r.name == "authhooks.handlers"]
    assert lines and lines[0].levelno == logging.WARNING
    assert lines[0].getMessage() == "audit-login issue_token.post success - access"  # no subject without record_subject
    assert pair.access_token not in caplog.text and pair.refresh_token not in caplog.text
    auth = make_auth(tmp_path, spec, record_subject=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="authhooks.handlers"):
        auth.sync.issue_tokens("alice")
    assert "audit-login issue_token.post success alice" in caplog.text


async def test_add_claims_static_and_templated(tmp_path: Path) -> None:
    spec = {
        "handler": [
            {
                "name": "tenant",
                "event": "issue_token.pre",
                "action": "add_claims",
                "options": {"claims": {"tenant": "acme", "roles": ["a", "b"], "stamped": "{subject}@{now}"}},
            }
        ]
    }
    auth = make_auth(tmp_path, spec, clock=lambda: 1_800_000_000.0)
    pair = await auth.issue_tokens("alice")
    auth.clock = lambda: 1_800_000_001.0
    principal = await auth.validate_token(pair.access_token)
    assert principal.claims["tenant"] == "acme" and principal.claims["roles"] == ["a", "b"]
    assert principal.claims["stamped"] == "alice@1800000000"
    sync_pair = await asyncio.to_thread(auth.sync.issue_tokens, "bob")
    assert (await auth.validate_token(sync_pair.access_token)).claims["tenant"] == "acme"


RATE = {
    "handler": [
        {
            "name": "throttle",
            "event": "challenge.pre",
            "action": "rate_limit",
            "options": {"limit": 3, "window": "1h", "key": ["subject"]},
        }
    ]
}


async def test_rate_limit_on_every_store(tmp_path: Path, store_options: dict[str, Any]) -> None:
    auth = make_auth(tmp_path, RATE, **store_options)
    for _ in range(3):
        await auth.generate_challenge("alice")
    with pytest.raises(Deny) as denied:
        await auth.generate_challenge("alice")
    assert denied.value.status == 429 and denied.value.reason == "rate_limited"
    assert 3500 < int(denied.value.headers["Retry-After"]) <= 3600
    await auth.generate_challenge("bob")  # its own window
    with pytest.raises(Deny):
        await asyncio.to_thread(auth.sync.generate_challenge, "alice")  # the sync API counts in the same window
    await auth.aclose()


def test_rate_limit_sync_api(tmp_path: Path, store_options: dict[str, Any]) -> None:
    auth = make_auth(tmp_path, RATE, **store_options)
    for _ in range(3):
        auth.sync.generate_challenge("carol")
    with pytest.raises(Deny) as denied:
        auth.sync.generate_challenge("carol")
    assert denied.value.headers["Retry-After"].isdigit()
    auth.close()


async def test_rate_limit_is_shared_by_two_instances_on_one_store(
    tmp_path: Path, store_options: dict[str, Any]
) -> None:
    if store_options["store_url"] == "memory://":
        pytest.skip("a memory store is one process's own")
    first = make_auth(tmp_path, RATE, **store_options)
    second = make_auth(tmp_path, RATE, **store_options)
    await first.generate_challenge("dave")
    await second.generate_challenge("dave")
    await first.generate_challenge("dave")
    with pytest.raises(Deny):
        await second.generate_challenge("dave")
    await first.aclose()
    await second.aclose()


def test_rate_limit_by_ip_route_and_point(tmp_path: Path) -> None:
    spec = {
        "handler": [
            {
                "name": "per-ip",
                "event": "challenge.pre",
                "action": "rate_limit",
                "options": {"limit": 1, "window": 60, "key": ["ip", "route", "point"]},
            }
        ]
    }
    auth = make_auth(tmp_path, spec)
    here = RequestInfo(method="POST", path="/auth/challenge", client_ip="192.0.2.1")
    there = RequestInfo(method="POST", path="/auth/challenge", client_ip="192.0.2.2")
    auth.sync.generate_challenge("a", request=here)
    auth.sync.generate_challenge("b", request=there)
    with pytest.raises(Deny):
        auth.sync.generate_challenge("c", request=here)


def _password_auth(tmp_path: Path, handlers: Any, **options: Any) -> Any:
    auth = make_auth(tmp_path, handlers, **options)

    @auth.hook("login.provide", name="check_password", inline=True)
    def check(subject: str, credentials: Any) -> Any:
        return subject if credentials.get("password") == "right" else False

    return auth


async def _login(auth: Any, subject: str, password: str) -> Any:
    try:
        await auth.login(subject, {"password": password}, scheme="password")
    except Deny as exc:
        return exc
    except AuthError as exc:
        return exc.reason
    return "ok"


LOCKOUT = {
    "handler": [
        {
            "name": "lockout",
            "event": "login.failed",
            "action": "lockout",
            "options": {"failures": 3, "window": "15m", "duration": "30m"},
        }
    ]
}


async def test_lockout_refuses_logins_after_repeated_failures(tmp_path: Path, store_options: dict[str, Any]) -> None:
    auth = _password_auth(tmp_path, LOCKOUT, **store_options)
    assert [await _login(auth, "erin", "wrong") for _ in range(2)] == ["provider_refused"] * 2
    assert await _login(auth, "erin", "right") == "ok"  # unlock_on_success: the count starts again
    assert [await _login(auth, "erin", "wrong") for _ in range(3)] == ["provider_refused"] * 3
    locked = await _login(auth, "erin", "right")
    assert isinstance(locked, Deny) and (locked.status, locked.reason) == (403, "account_locked")
    assert 1700 < int(locked.headers["Retry-After"]) <= 1800
    assert await _login(auth, "frank", "right") == "ok"
    with pytest.raises(Deny):
        await asyncio.to_thread(auth.sync.login, "erin", {"password": "right"}, scheme="password")
    assert [h.name for h in auth.hooks("login.pre")] == ["handler:lockout"]  # the guard, named as the handler
    await auth.aclose()


def lowercase_subject(subject: str) -> dict[str, str]:
    return {"subject": subject.lower()}


async def test_python_action_and_ordering_with_python_hooks(tmp_path: Path) -> None:
    seen: list[str] = []
    spec = {
        "handler": [
            {"name": "lower", "event": "challenge.pre", "action": f"{__name__}:lowercase_subject", "after": "first"},
            {"name": "early", "event": "challenge.pre", "action": "log", "tryfirst": True},
        ]
    }
    auth = make_auth(tmp_path, spec)

    @auth.hook("challenge.pre", name="first", order=-10, inline=True)
    def first(subject: str) -> None:
        seen.append(subject)

    @auth.hook("challenge.pre", name="last", order=10, inline=True)
    def last(subject: str) -> None:
        seen.append(subject)

    assert [h.name for h in auth.hooks("challenge.pre")] == ["handler:early", "first", "handler:lower", "last"]
    await auth.generate_challenge("ALICE")
    assert seen == ["ALICE", "alice"]


async def test_shadow_mode_records_and_does_not_enforce(tmp_path: Path) -> None:
    from authhooks.testing import HookRecorder

    auth = make_auth(tmp_path, _deny(enforce=False))
    recorder = HookRecorder()
    auth.add_observer(recorder)
    await auth.generate_challenge("alice")  # not denied
    await asyncio.to_thread(auth.sync.generate_challenge, "alice")
    assert recorder.decisions("handler:gate") == ["shadow_deny", "shadow_deny"]


async def test_on_error_isolates_a_failing_action(tmp_path: Path) -> None:
    spec = {
        "handler": [{"name": "boom", "event": "challenge.pre", "action": f"{__name__}:explode", "on_error": "ignore"}]
    }
    auth = make_auth(tmp_path, spec)
    await auth.generate_challenge("alice")  # the failure is logged, the flow goes on
    spec["handler"][0]["on_error"] = "deny"
    auth.load_handlers(spec)
    with pytest.raises(HookFailed):
        await auth.generate_challenge("alice")


def explode() -> None:
    raise RuntimeError("boom")


async def test_enable_and_disable_at_run_time(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, _deny())
    with pytest.raises(Deny):
        await auth.generate_challenge("alice")
    auth.handlers.disable("gate")
    assert auth.hooks("challenge.pre") == () and auth.handlers.is_enabled("gate") is False
    await auth.generate_challenge("alice")
    auth.handlers.enable("gate")
    with pytest.raises(Deny):
        await auth.generate_challenge("alice")
    with pytest.raises(KeyError, match="did you mean 'gate'"):
        auth.handlers.disable("gates")
    disabled = make_auth(tmp_path, _deny(enabled=False))
    assert disabled.hooks("challenge.pre") == () and not disabled.handlers.list()[0].enabled
