"""Background hooks: they run after the call returns, through a bounded queue that is drained on close and
counts what it drops."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from authhooks import AuthHooks, HookError
from authhooks.testing import HookRecorder


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


async def test_sync_background_hook_runs_after_fire_sync_returns(gate: threading.Event) -> None:
    auth = AuthHooks(store_url="memory://")
    sent: list[str] = []

    def send_webhook(subject: str) -> None:
        gate.wait(5)
        sent.append(subject)

    auth.add_hook("login.post", send_webhook, background=True)
    started = time.perf_counter()
    auth.sync.fire("login.post", subject="alice")
    assert time.perf_counter() - started < 1.0
    assert sent == []  # the response did not wait for the webhook
    gate.set()
    auth.close()
    assert sent == ["alice"]
    assert auth.background_stats.completed == 1
    assert auth.background_stats.pending == 0


async def test_sync_background_hook_runs_after_fire_returns(gate: threading.Event) -> None:
    auth = AuthHooks(store_url="memory://")
    sent: list[str] = []

    def send_webhook(subject: str) -> None:
        gate.wait(5)
        sent.append(subject)

    auth.add_hook("login.post", send_webhook, background=True)
    await auth.fire("login.post", subject="alice")
    assert sent == []
    gate.set()
    await auth.aclose()
    assert sent == ["alice"]


async def test_async_background_hook_runs_after_fire_returns_and_aclose_drains() -> None:
    auth = AuthHooks(store_url="memory://")
    sent: list[str] = []

    async def send_webhook(subject: str) -> None:
        await asyncio.sleep(0.05)
        sent.append(subject)

    auth.add_hook("login.post", send_webhook, background=True)
    await auth.fire("login.post", subject="alice")
    await auth.fire("login.post", subject="bob")
    assert sent == []
    await auth.aclose()
    assert sorted(sent) == ["alice", "bob"]
    stats = auth.background_stats
    assert (stats.queued, stats.completed, stats.pending, stats.dropped) == (2, 2, 0, 0)


async def test_async_background_hook_under_the_sync_driver_runs_on_the_worker() -> None:
    auth = AuthHooks(store_url="memory://")
    sent: list[str] = []

    async def send_webhook(subject: str) -> None:
        await asyncio.sleep(0.01)
        sent.append(subject)

    auth.add_hook("login.post", send_webhook, background=True)
    auth.sync.fire("login.post", subject="alice")
    auth.close()
    assert sent == ["alice"]


async def test_background_hook_gets_a_snapshot_of_the_inputs(gate: threading.Event) -> None:
    auth = AuthHooks(store_url="memory://")
    seen: list[Any] = []

    def slow(subject: str, tokens: Any) -> None:
        gate.wait(5)
        seen.append((subject, tokens))

    auth.add_hook("login.post", slow, background=True)
    result = auth.sync.fire("login.post", subject="alice", tokens="t1")
    result.values["subject"] = "changed later"  # type: ignore[index]
    gate.set()
    auth.close()
    assert seen == [("alice", "t1")]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_full_queue_drops_and_counts(gate: threading.Event, mode: str) -> None:
    auth = AuthHooks(store_url="memory://", background_queue_size=1)
    sent: list[str] = []

    def slow_webhook(subject: str) -> None:
        gate.wait(5)
        sent.append(subject)

    auth.add_hook("login.post", slow_webhook, background=True)
    started = time.perf_counter()
    for subject in ("alice", "bob", "carol"):
        if mode == "sync":
            auth.sync.fire("login.post", subject=subject)
        else:
            await auth.fire("login.post", subject=subject)
    assert time.perf_counter() - started < 1.0  # a full queue never blocks the flow
    stats = auth.background_stats
    assert (stats.queued, stats.dropped, stats.pending) == (1, 2, 1)
    gate.set()
    if mode == "sync":
        auth.close()
    else:
        await auth.aclose()
    assert sent == ["alice"]
    stats = auth.background_stats
    assert (stats.queued, stats.completed, stats.dropped, stats.pending) == (1, 1, 2, 0)


async def test_full_queue_of_async_hooks_drops_and_counts() -> None:
    auth = AuthHooks(store_url="memory://", background_queue_size=1)
    release = asyncio.Event()
    sent: list[str] = []

    async def slow_webhook(subject: str) -> None:
        await release.wait()
        sent.append(subject)

    auth.add_hook("login.post", slow_webhook, background=True)
    await auth.fire("login.post", subject="alice")
    await auth.fire("login.post", subject="bob")
    assert auth.background_stats.dropped == 1
    release.set()
    await auth.aclose()
    assert sent == ["alice"]


def test_queue_frees_up_after_a_run_completes() -> None:
    auth = AuthHooks(store_url="memory://", background_queue_size=1)
    sent: list[str] = []
    auth.add_hook("login.post", lambda subject: sent.append(subject), background=True)
    auth.sync.fire("login.post", subject="alice")
    deadline = time.monotonic() + 2
    while auth.background_stats.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    auth.sync.fire("login.post", subject="bob")
    auth.close()
    assert sent == ["alice", "bob"]
    assert auth.background_stats.dropped == 0


@pytest.mark.parametrize("point", ["login.pre", "login.provide", "login.verified", "validate_token.post"])
def test_background_at_a_decision_point_is_refused(point: str) -> None:
    auth = AuthHooks(store_url="memory://")
    with pytest.raises(HookError, match="background"):
        auth.add_hook(point, lambda: None, background=True)
    assert auth.hooks(point) == ()


async def test_background_failure_is_counted_and_does_not_reach_the_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = AuthHooks(store_url="memory://")

    def broken() -> None:
        raise RuntimeError("webhook 500 with token abc.def.ghi")

    auth.add_hook("login.post", broken, background=True, name="webhook")
    auth.sync.fire("login.post", subject="alice")
    auth.close()
    stats = auth.background_stats
    assert (stats.queued, stats.failed, stats.completed) == (1, 1, 0)
    assert "webhook" in caplog.text
    assert "RuntimeError" in caplog.text
    assert "abc.def.ghi" not in caplog.text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_background_runs_are_recorded(hook_recorder: Any, mode: str) -> None:
    auth = AuthHooks(store_url="memory://")
    recorder: HookRecorder = hook_recorder(auth)
    ran: list[str] = []

    async def notify_async(subject: str) -> None:
        ran.append("async")

    def broken() -> None:
        raise ValueError("no")

    auth.add_hook("login.post", lambda subject: ran.append("sync"), background=True, name="mail")
    auth.add_hook("login.post", broken, background=True, name="broken")
    if mode == "async":
        auth.add_hook("login.post", notify_async, background=True, name="push")
        await auth.fire("login.post", subject="alice")
        await auth.aclose()
    else:
        auth.sync.fire("login.post", subject="alice")
        auth.close()
    names = ["mail", "broken", "push"] if mode == "async" else ["mail", "broken"]
    foreground = [r for r in recorder.records if not r.background]
    background = {r.hook: r for r in recorder.records if r.background}
    assert [(r.hook, str(r.decision)) for r in foreground] == [(n, "queued") for n in names]
    assert set(background) == set(names)
    assert str(background["mail"].decision) == "continue"
    assert str(background["broken"].decision) == "error"
    assert background["broken"].error_type == "ValueError"
    assert all(r.point == "login.post" for r in background.values())
    assert len(ran) == len(names) - 1


async def test_dropped_run_is_recorded(hook_recorder: Any, gate: threading.Event) -> None:
    auth = AuthHooks(store_url="memory://", background_queue_size=1)
    recorder: HookRecorder = hook_recorder(auth)
    auth.add_hook("login.post", lambda: gate.wait(5), background=True, name="slow")
    auth.sync.fire("login.post")
    auth.sync.fire("login.post")
    assert recorder.decisions("slow") == ["queued", "dropped"]
    gate.set()
    auth.close()


async def test_background_hook_timeout_is_counted_as_failed() -> None:
    auth = AuthHooks(store_url="memory://")

    async def hangs() -> None:
        await asyncio.sleep(5)

    auth.add_hook("login.post", hangs, background=True, timeout=0.1)
    await auth.fire("login.post")
    started = time.perf_counter()
    await auth.aclose()
    assert time.perf_counter() - started < 1.1
    stats = auth.background_stats
    assert (stats.failed, stats.pending) == (1, 0)


async def test_aclose_is_bounded_and_accounts_for_abandoned_runs() -> None:
    """A run still going when the drain deadline passes is abandoned; the queue must not keep counting it as
    pending (which also would take its slot forever), and it must show up as failed or dropped."""
    auth = AuthHooks(store_url="memory://", background_queue_size=1)

    async def hangs() -> None:
        await asyncio.sleep(10)

    auth.add_hook("login.post", hangs, background=True)
    await auth.fire("login.post")
    started = time.perf_counter()
    await auth.aclose(timeout=0.1)
    assert time.perf_counter() - started < 1.1
    stats = auth.background_stats
    assert stats.pending == 0
    assert stats.completed == 0
    assert stats.failed + stats.dropped == 1


def test_close_is_bounded_when_a_sync_run_hangs(gate: threading.Event) -> None:
    auth = AuthHooks(store_url="memory://")
    auth.add_hook("login.post", lambda: gate.wait(5), background=True)
    auth.sync.fire("login.post")
    started = time.perf_counter()
    auth.close(timeout=0.1)
    assert time.perf_counter() - started < 1.1


async def test_context_managers_drain_the_queue() -> None:
    sent: list[str] = []

    async def notify(subject: str) -> None:
        await asyncio.sleep(0.01)
        sent.append(subject)

    async with AuthHooks(store_url="memory://") as auth:
        auth.add_hook("login.post", notify, background=True)
        await auth.fire("login.post", subject="alice")
    assert sent == ["alice"]

    with AuthHooks(store_url="memory://") as sync_auth:
        sync_auth.add_hook("login.post", lambda subject: sent.append(subject), background=True)
        sync_auth.sync.fire("login.post", subject="bob")
    assert sent == ["alice", "bob"]
