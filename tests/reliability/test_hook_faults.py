"""Hooks that are slow, hang or never return: none of them may stall the server (product.md §10).

The rules under test (:mod:`authhooks.hooks.runner`): every hook run is bounded by a timeout (its own or
``hook_timeout_seconds``, 5 s by default); sync hooks run on authhooks' own bounded pool (``hook_workers``), never
on the event loop; a run that finds the pool full waits at most its timeout, then fails by its policy (503 under
``deny``); a timed-out sync hook still running is *abandoned* and counted.

Each test states its bounded outcome — the status a client gets and the worst latency allowed — in its
docstring. Margins are generous (a loaded 2-core machine): ``FAST`` for what must not wait at all, the timeout
plus ``MARGIN`` for what waits for a timeout. Hooks block on an event with a cap, released at the end of each test,
so no thread outlives the test for long.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from authhooks import AuthHooks, Settings
from authhooks.config import Secret
from authhooks.errors import HookError, HookFailed
from authhooks.events import RequestInfo
from authhooks.hooks.deadlines import Expired, Watchdog
from authhooks.middleware import AuthHooksMiddleware
from authhooks.telemetry import names
from authhooks.telemetry.tracing import TelemetryObserver

TIMEOUT = 0.5
"""``hook_timeout_seconds`` in most tests."""
MARGIN = 1.5
"""Added to a timeout for the worst latency of a request that waits for it."""
FAST = 0.5
"""The worst latency of a request that must not wait for a stalled hook."""
HANG = 10.0
"""How long a "hung" hook blocks at most (it is released at the end of the test)."""

SECRET = Secret(b"reliability-hook-faults-secret-0123456789")


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def make_auth(tmp_path: Path, **overrides: Any) -> AuthHooks:
    return AuthHooks(secret=SECRET, store_url="memory://", state_dir=tmp_path, **overrides)


def make_app(auth: AuthHooks) -> Any:
    """``/health`` (public, no hook runs) and ``/api/me`` (protected: ``validate_token`` hooks run)."""
    app = Starlette(routes=[Route("/health", ok), Route("/api/me", ok)])
    return AuthHooksMiddleware(app, auth=auth, protect=["/api/**"])


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test: every hung sync hook returns."""
    event = threading.Event()
    yield event
    event.set()


async def timed(client: httpx.AsyncClient, path: str, **kwargs: Any) -> tuple[int, float]:
    started = time.perf_counter()
    response = await client.get(path, **kwargs)
    return response.status_code, time.perf_counter() - started


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver", timeout=30)


async def wait_until(predicate: Callable[[], bool], within: float) -> None:
    """Poll ``predicate`` every 20 ms for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    for _ in range(int(within / 0.02) + 1):
        if predicate() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


def slow_header(request: RequestInfo | None) -> bool:
    return request is not None and request.headers.get("x-slow") == "1"


async def test_a_slow_sync_hook_does_not_delay_other_requests(tmp_path: Path) -> None:
    """Default settings; a plain sync ``validate_token.pre`` hook that sleeps 3 s (under the 5 s default
    timeout). Bounded outcome: ``/health`` and a second protected request answer 200 in < ``FAST`` (0.5 s) while
    the slow hook runs; the slow request answers 200 after its 3 s, in < 3 + ``MARGIN`` s.
    (Before: the hook ran on the event loop and every request waited for it.)"""
    auth = make_auth(tmp_path)

    @auth.hook("validate_token.pre")
    def slow_for_some(request: RequestInfo | None) -> None:
        if slow_header(request):
            time.sleep(3.0)

    token = (await auth.issue_token("alice")).token
    headers = {"authorization": f"Bearer {token}"}
    async with client_for(make_app(auth)) as client:
        started = time.perf_counter()
        slow = asyncio.ensure_future(timed(client, "/api/me", headers={**headers, "x-slow": "1"}))
        await asyncio.sleep(0.3)  # the slow hook is running now (a blocked loop would wake us late)
        health = await timed(client, "/health")
        other = await timed(client, "/api/me", headers=headers)
        both_done = time.perf_counter() - started - 0.3  # counted from when they were due, not sent
        slow_status, slow_latency = await slow
    await auth.aclose()
    assert health[0] == 200 and other[0] == 200, (health, other)
    assert both_done < FAST, both_done
    assert slow_status == 200 and 2.9 <= slow_latency < 3.0 + MARGIN, slow_latency


async def test_a_hung_sync_hook_is_cut_at_its_timeout_and_counted_as_abandoned(
    tmp_path: Path, release: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AUTHHOOKS_HOOK_TIMEOUT_SECONDS=0.5``; a sync decision hook that never returns (until released).
    Bounded outcome: 503 ``hook_timeout`` in < 0.5 + ``MARGIN`` s; ``auth.hook_stats`` counts one timeout and one
    abandoned run, still running until the hook returns, then none running."""
    monkeypatch.setenv("AUTHHOOKS_HOOK_TIMEOUT_SECONDS", str(TIMEOUT))
    auth = make_auth(tmp_path)
    auth.add_hook("validate_token.pre", lambda: release.wait(HANG), name="hangs")
    token = (await auth.issue_token("alice")).token
    async with client_for(make_app(auth)) as client:
        started = time.perf_counter()
        response = await client.get("/api/me", headers={"authorization": f"Bearer {token}"})
        latency = time.perf_counter() - started
    assert response.status_code == 503 and TIMEOUT - 0.05 <= latency < TIMEOUT + MARGIN, latency
    stats = auth.hook_stats
    assert (stats.timeouts, stats.abandoned, stats.abandoned_running) == (1, 1, 1)
    release.set()
    await wait_until(lambda: auth.hook_stats.abandoned_running == 0, 2.0)
    assert auth.hook_stats.abandoned_running == 0 and auth.hook_stats.abandoned == 1
    await auth.aclose()


async def test_hung_hooks_that_fill_the_pool_do_not_starve_later_requests_beyond_their_timeout(
    tmp_path: Path, release: threading.Event
) -> None:
    """``hook_workers=2``, ``hook_timeout_seconds=0.5``; three requests (N+1) whose sync hook hangs, then a
    request whose sync hook is fast but finds no free thread. Bounded outcome: each of them answers 503 in
    < 0.5 + ``MARGIN`` s (the starved one waited for a thread at most its timeout); meanwhile ``/health``
    answers 200 and a point whose hook is ``inline=True`` completes, both in < ``FAST``; once the hung hooks
    return, the next request answers 200 in < ``FAST``. Two runs are counted abandoned (those holding a
    thread), four as timeouts."""
    auth = make_auth(tmp_path, hook_workers=2, hook_timeout_seconds=TIMEOUT)

    @auth.hook("validate_token.pre")
    def hangs_for_some(request: RequestInfo | None) -> None:
        if slow_header(request):
            release.wait(HANG)

    auth.declare_point("quota.post", inputs=("n",))
    auth.add_hook("quota.post", lambda n: None, inline=True, name="cheap")

    token = (await auth.issue_token("alice")).token
    headers = {"authorization": f"Bearer {token}"}
    async with client_for(make_app(auth)) as client:
        hung = [asyncio.ensure_future(timed(client, "/api/me", headers={**headers, "x-slow": "1"})) for _ in range(3)]
        await asyncio.sleep(0.1)
        starved = asyncio.ensure_future(timed(client, "/api/me", headers=headers))
        health = await timed(client, "/health")
        inline_started = time.perf_counter()
        await auth.fire("quota.post", n=1)
        inline_latency = time.perf_counter() - inline_started
        results = [await task for task in hung] + [await starved]
        release.set()
        await asyncio.sleep(0.2)
        after = await timed(client, "/api/me", headers=headers)
    for status, latency in results:
        assert status == 503 and latency < TIMEOUT + MARGIN, results
    assert health[0] == 200 and health[1] < FAST, health
    assert inline_latency < FAST
    assert after[0] == 200 and after[1] < FAST, after
    stats = auth.hook_stats
    assert stats.abandoned == 2 and stats.timeouts == 4, stats
    await auth.aclose()


@pytest.mark.slow
async def test_an_async_hook_that_never_returns_is_cut_at_the_default_timeout(tmp_path: Path) -> None:
    """Default settings; an async decision hook awaiting forever. Bounded outcome: 503 ``hook_timeout`` after the
    5 s default, in [5 s, 5 + ``MARGIN`` s); ``/health`` answers meanwhile in < ``FAST``.
    (Before: the request hung for ever, and so did the shutdown waiting for it.)"""
    auth = make_auth(tmp_path)
    default = Settings().hook_timeout_seconds
    assert default == 5.0

    @auth.hook("validate_token.pre")
    async def never_returns() -> None:
        await asyncio.Event().wait()

    token = (await auth.issue_token("alice")).token
    async with client_for(make_app(auth)) as client:
        hung = asyncio.ensure_future(timed(client, "/api/me", headers={"authorization": f"Bearer {token}"}))
        await asyncio.sleep(0.2)
        health = await timed(client, "/health")
        status, latency = await asyncio.wait_for(hung, default + 5.0)
    assert status == 503 and default - 0.05 <= latency < default + MARGIN, latency
    assert health[0] == 200 and health[1] < FAST, health
    assert auth.hook_stats.timeouts == 1 and auth.hook_stats.abandoned == 0  # cancelled, not abandoned
    await auth.aclose()


def test_the_sync_driver_enforces_the_timeout(tmp_path: Path, release: threading.Event) -> None:
    """``fire_sync`` (the WSGI driver) with a sync decision hook that never returns, ``hook_timeout_seconds=0.5``.
    Bounded outcome: ``HookFailed`` (503, ``hook_timeout``) in < 0.5 + ``MARGIN`` s in the caller's thread; the
    run is counted abandoned."""
    auth = make_auth(tmp_path, hook_timeout_seconds=TIMEOUT)
    auth.add_hook("login.pre", lambda: release.wait(HANG), name="hangs")
    started = time.perf_counter()
    with pytest.raises(HookFailed) as info:
        auth.sync.fire("login.pre", subject="alice")
    latency = time.perf_counter() - started
    assert info.value.status == 503 and info.value.reason == "hook_timeout"
    assert TIMEOUT - 0.05 <= latency < TIMEOUT + MARGIN, latency
    assert auth.hook_stats.abandoned == 1
    release.set()
    auth.close(timeout=2.0)


async def test_a_hung_background_hook_does_not_stop_the_queue(tmp_path: Path, release: threading.Event) -> None:
    """A sync ``background=True`` hook whose first run never returns, ``hook_timeout_seconds=0.5``; three flows
    queue it. Bounded outcome: within 2 x 0.5 + ``MARGIN`` s the first run is counted failed (timed out) and the
    two later ones completed. (Before: the one worker thread waited for the hung run, and everything queued
    behind it waited too, until the queue was full and dropped the rest.)"""
    auth = make_auth(tmp_path, hook_timeout_seconds=TIMEOUT)
    calls: list[int] = []

    def notify(subject: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            release.wait(HANG)

    auth.add_hook("login.post", notify, background=True)
    for _ in range(3):
        await auth.fire("login.post", subject="alice")
    await wait_until(lambda: auth.background_stats.pending == 0, 2 * TIMEOUT + MARGIN)
    stats = auth.background_stats
    assert (stats.completed, stats.failed, stats.pending) == (2, 1, 0), stats
    release.set()
    await auth.aclose()


async def test_abandoned_runs_are_an_opentelemetry_counter(tmp_path: Path, release: threading.Event) -> None:
    """An abandoned run (timed out, hook still running) is counted by ``authhooks.hook.abandoned`` with the hook's
    name and point, next to its ``timeout`` decision."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    auth = make_auth(tmp_path, hook_timeout_seconds=TIMEOUT, telemetry=False)
    auth.add_observer(TelemetryObserver(Settings(), meter_provider=provider))
    auth.add_hook("login.post", lambda: release.wait(HANG), name="hangs")
    await auth.fire("login.post", subject="alice")
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == names.METRIC_HOOK_ABANDONED
        for point in metric.data.data_points
    ]
    assert [(dict(p.attributes), p.value) for p in points] == [
        ({names.ATTR_HOOK_NAME: "hangs", names.ATTR_HOOK_POINT: "login.post"}, 1)
    ]
    release.set()
    await auth.aclose()
    provider.shutdown()


@pytest.mark.parametrize(
    ("fn", "options", "message"),
    [
        (lambda: None, {"inline": True, "timeout": 1.0}, "cannot be cut at a timeout"),
        (None, {"inline": True}, "inline= is for sync hooks"),
    ],
)
def test_inline_is_for_sync_hooks_without_a_timeout(tmp_path: Path, fn: Any, options: Any, message: str) -> None:
    """``inline=True`` is refused at registration where it cannot mean what it says: with a ``timeout=`` (an
    inline hook cannot be cut) or on an async hook (it runs on the loop anyway). An inline hook gets no default
    timeout; every other hook gets ``hook_timeout_seconds``."""

    async def async_hook() -> None:
        return None

    auth = make_auth(tmp_path)
    with pytest.raises(HookError, match=message):
        auth.add_hook("login.pre", fn or async_hook, **options)
    assert auth.add_hook("login.pre", lambda: None, inline=True, name="inline").timeout is None
    assert auth.add_hook("login.pre", lambda: None, name="default").timeout == 5.0
    assert auth.add_hook("login.pre", async_hook, name="async").timeout == 5.0


async def test_a_deadline_inside_another_does_not_use_up_the_outer_one() -> None:
    """Async hook timeouts share one watchdog timer per loop. An async hook that fires another point (a watched
    await inside a watched await) where both deadlines pass in the same timer check (the loop was blocked past
    both) is cut twice: the inner await ends in ``Expired``, and so does the outer one, whose cancellation the
    inner one used up. Bounded outcome: both within 0.3 + ``MARGIN`` s; nothing left watched."""
    dog = Watchdog(asyncio.get_running_loop())
    inner_expired = False

    async def blocks_then_waits() -> None:
        time.sleep(0.3)  # noqa: ASYNC251 - deliberately block the loop past both deadlines
        await asyncio.Event().wait()

    async def outer_hook() -> None:
        nonlocal inner_expired
        try:
            await dog.watch(blocks_then_waits(), 0.1)
        except Expired:
            inner_expired = True
        await asyncio.Event().wait()  # the enclosing deadline passed too: this must be cut as well

    started = time.perf_counter()
    with pytest.raises(Expired):
        await asyncio.wait_for(dog.watch(outer_hook(), 0.2), 0.3 + MARGIN + 1.0)
    assert time.perf_counter() - started < 0.3 + MARGIN
    assert inner_expired and dog.runs == {}
