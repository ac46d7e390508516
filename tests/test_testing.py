"""The testing helper (``hook_recorder`` fixture, ``HookRecorder``) and the observer seam it stands on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from authhooks import (
    AuthHooks,
    Deny,
    FireResult,
    FlowRun,
    HookFailed,
    HookRecord,
    Outcome,
    RequestInfo,
    StopAuthentication,
)
from authhooks.testing import HookRecorder

Attach = Callable[[AuthHooks], HookRecorder]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def fire(mode: str, auth: AuthHooks, point: str, **inputs: Any) -> FireResult:
    return auth.sync.fire(point, **inputs) if mode == "sync" else await auth.fire(point, **inputs)


async def test_records_hook_names_in_run_order(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.pre", lambda: None, name="normalise", order=-1)
    auth.add_hook("login.pre", lambda: None, name="rate_limit")
    auth.add_hook("login.pre", lambda: None, name="geo", tryfirst=True)
    auth.add_hook("login.post", lambda: None, name="audit")
    recorder = hook_recorder(auth)
    await fire(mode, auth, "login.pre", subject="alice")
    await fire(mode, auth, "login.post", subject="alice")
    assert recorder.names() == ["geo", "normalise", "rate_limit", "audit"]
    assert recorder.names("login.post") == ["audit"]
    assert recorder.decisions() == ["continue"] * 4
    assert recorder.last("audit").point == "login.post"
    assert recorder.last("audit").stage == "post"


async def test_records_every_decision(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    gate = threading.Event()
    auth.add_hook("login.pre", lambda: None, name="noop")
    auth.add_hook("login.pre", lambda subject: {"subject": subject.lower()}, name="lower")
    auth.add_hook("login.pre", lambda: Deny(reason="shadowed"), name="trial", enforce=False)
    auth.add_hook("login.pre", lambda: None, name="admins_only", when=lambda subject: subject == "admin")
    auth.add_hook("login.provide", lambda: None, name="ldap")
    auth.add_hook("login.provide", lambda subject: f"user:{subject}", name="db")

    def broken() -> None:
        raise RuntimeError("boom")

    auth.add_hook("login.post", broken, name="broken")
    auth.add_hook("login.post", lambda: gate.wait(5), name="slow", timeout=0.1)
    auth.add_hook("login.failed", lambda: gate.wait(5), name="mail", background=True)
    recorder = hook_recorder(auth)
    try:
        await fire(mode, auth, "login.pre", subject="ALICE")
        await fire(mode, auth, "login.provide", subject="alice")
        await fire(mode, auth, "login.post", subject="alice")
        auth2 = AuthHooks(store_url="memory://", background_queue_size=1)
        auth2.add_hook("login.failed", lambda: gate.wait(5), name="mail", background=True)
        auth2.add_observer(recorder)
        await fire(mode, auth2, "login.failed")
        await fire(mode, auth2, "login.failed")
    finally:
        gate.set()
    assert recorder.decisions("noop") == ["continue"]
    assert recorder.decisions("lower") == ["modify"]
    assert recorder.decisions("trial") == ["shadow_deny"]
    assert recorder.decisions("admins_only") == ["skipped"]
    assert recorder.decisions("ldap") == ["continue"]
    assert recorder.decisions("db") == ["provide"]
    assert recorder.decisions("broken") == ["error"]
    assert recorder.last("broken").error_type == "RuntimeError"
    assert recorder.decisions("slow") == ["timeout"]
    assert recorder.last("slow").error_type is not None
    assert recorder.decisions("mail")[:2] == ["queued", "dropped"]
    auth2.close()

    deny = AuthHooks(store_url="memory://")
    deny.add_hook("login.pre", lambda: Deny(reason="rate_limited"), name="rate_limit")
    rec2 = hook_recorder(deny)
    with pytest.raises(Deny):
        await fire(mode, deny, "login.pre", subject="alice")
    assert rec2.decisions("rate_limit") == ["deny"]
    assert rec2.last("rate_limit").reason == "rate_limited"


async def test_durations_are_measured(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.post", lambda: time.sleep(0.05), name="slowish")
    auth.add_hook("login.post", lambda: None, name="skipped", when=lambda: False)
    recorder = hook_recorder(auth)
    await fire(mode, auth, "login.post")
    assert recorder.last("slowish").duration >= 0.04
    assert recorder.last("skipped").duration == 0.0


async def test_records_flow_outcomes(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook(
        "login.pre", lambda subject: StopAuthentication("account_locked") if subject == "bob" else None, name="lock"
    )

    def broken(subject: str) -> None:
        if subject == "carol":
            raise RuntimeError("boom")

    auth.add_hook("login.pre", broken, name="broken")
    recorder = hook_recorder(auth)
    await fire(mode, auth, "login.pre", subject="alice")
    with pytest.raises(StopAuthentication):
        await fire(mode, auth, "login.pre", subject="bob")
    with pytest.raises(HookFailed):
        await fire(mode, auth, "login.pre", subject="carol")
    assert recorder.outcomes() == [
        ("login", Outcome.SUCCESS, None),
        ("login", Outcome.SHORT_CIRCUIT, "account_locked"),
        ("login", Outcome.SHORT_CIRCUIT, "hook_error"),
    ]
    assert recorder.outcomes("challenge") == []
    ok, denied, faulted = recorder.flows
    assert ok.fault is None
    assert denied.fault is None
    assert isinstance(faulted.fault, HookFailed)
    assert [r.hook for r in faulted.hooks] == ["lock", "broken"]  # the run's decision trail
    assert all(f.duration > 0 for f in recorder.flows)


async def test_flow_run_carries_the_request(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("request.post", lambda: None)
    recorder = hook_recorder(auth)
    req = RequestInfo(method="GET", path="/items", route="/items")
    if mode == "sync":
        auth.sync.fire("request.post", request=req, status_code=200)
    else:
        await auth.fire("request.post", request=req, status_code=200)
    assert recorder.flows[0].request is req
    assert recorder.flows[0].flow == "request"


async def test_flows_are_recorded_even_without_hooks(hook_recorder: Attach, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    recorder = hook_recorder(auth)
    await fire(mode, auth, "login.post")
    assert recorder.outcomes() == [("login", Outcome.SUCCESS, None)]
    assert recorder.records == []


def test_last_and_clear() -> None:
    auth = AuthHooks(store_url="memory://", telemetry=False)
    recorder = HookRecorder()
    auth.add_observer(recorder)
    auth.add_hook("login.post", lambda: None, name="audit")
    with pytest.raises(LookupError, match="never ran"):
        recorder.last("audit")
    auth.sync.fire("login.post")
    auth.sync.fire("login.post")
    assert recorder.decisions("audit") == ["continue", "continue"]
    recorder.clear()
    assert recorder.records == []
    assert recorder.flows == []
    auth.remove_observer(recorder)
    auth.sync.fire("login.post")
    assert recorder.records == []
    assert auth.observers == ()


def test_several_recorders_see_the_same_runs(hook_recorder: Attach) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.post", lambda: None, name="audit")
    first, second = hook_recorder(auth), hook_recorder(auth)
    auth.sync.fire("login.post")
    assert first.names() == second.names() == ["audit"]


class Broken:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def flow_started(self, run: FlowRun) -> None:
        self.calls.append("started")
        raise RuntimeError("observer start broke")

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        self.calls.append("hook")
        raise RuntimeError("observer hook broke")

    def flow_ended(self, run: FlowRun) -> None:
        self.calls.append("ended")
        raise RuntimeError("observer end broke")


async def test_an_observer_that_raises_does_not_break_the_flow(hook_recorder: Attach, mode: str) -> None:
    broken = Broken()
    auth = AuthHooks(store_url="memory://", observers=[broken])
    auth.add_hook("login.pre", lambda subject: {"subject": subject.lower()}, name="lower")
    auth.add_hook("login.pre", lambda: None, name="after")
    recorder = hook_recorder(auth)
    result = await fire(mode, auth, "login.pre", subject="ALICE")
    assert result.values["subject"] == "alice"
    assert broken.calls == ["started", "hook", "hook", "ended"]
    assert recorder.names() == ["lower", "after"]  # the observer after the broken one still hears everything
    assert recorder.outcomes() == [("login", Outcome.SUCCESS, None)]
    auth.add_hook("login.pre", lambda: Deny(reason="no"), name="deny")
    with pytest.raises(Deny):
        await fire(mode, auth, "login.pre", subject="alice")


async def test_background_records_link_to_the_queuing_flow(hook_recorder: Attach) -> None:
    auth = AuthHooks(store_url="memory://")

    async def push() -> None:
        await asyncio.sleep(0)

    auth.add_hook("login.post", push, background=True, name="push")
    recorder = hook_recorder(auth)
    await auth.fire("login.post")
    await auth.aclose()
    queued, ran = recorder.records
    assert (str(queued.decision), queued.background) == ("queued", False)
    assert (str(ran.decision), ran.background) == ("continue", True)
    assert [r.hook for r in recorder.flows[0].hooks] == ["push", "push"]
