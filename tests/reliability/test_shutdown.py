"""Shutdown is bounded whatever is down (product.md §10): hooks that never return, an OTLP collector that accepts
connections and never answers (a "black hole" on 127.0.0.1), both at once.

The rule under test (``AuthHooks.aclose`` / ``close``): the whole shutdown — background queue, running hooks,
telemetry flush and provider shutdown, store — takes at most ``shutdown_timeout_seconds`` (5 s by default, 1 s
here); what does not finish is abandoned (daemon threads), so the process exits on time too. The telemetry is
flushed once, by ``aclose``, not again by the middleware's lifespan.

Each test states its bounded outcome in its docstring. Margins are generous (a loaded 2-core machine).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import authhooks
from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware

BUDGET = 1.0
"""``shutdown_timeout_seconds`` in these tests."""
MARGIN = 1.0
"""Added to ``BUDGET`` for an in-process ``aclose``/``close``."""
PROCESS_MARGIN = 2.5
"""Added to ``BUDGET`` for a whole process to exit (interpreter teardown, uvicorn's own steps)."""
ROOT = Path(__file__).resolve().parents[2]


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts every connection and never reads nor answers."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def child_env(hole: BlackHole, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHHOOKS_", "OTEL_"))}
    env.update(
        # the authhooks this test imported, and the repository root (for tests.reliability._shutdown_app)
        PYTHONPATH=os.pathsep.join([str(Path(authhooks.__file__).parents[1]), str(ROOT)]),
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=hole.url,
        OTEL_BSP_SCHEDULE_DELAY="60000",  # nothing is exported before the shutdown
        AUTHHOOKS_SHUTDOWN_TIMEOUT_SECONDS=str(BUDGET),
        AUTHHOOKS_HOOK_TIMEOUT_SECONDS="30",  # hooks that hang are still running at shutdown
        AUTHHOOKS_STORE_URL="memory://",
        AUTHHOOKS_STATE_DIR=str(tmp_path),
    )
    return env


async def test_aclose_with_hung_hooks_is_bounded(tmp_path: Path, release: threading.Event) -> None:
    """``shutdown_timeout_seconds=1``; at shutdown a sync decision hook is running (its request in flight), a
    sync background hook and an async background hook never return. Bounded outcome: ``aclose()`` returns in
    < 1 + ``MARGIN`` s; the async background run is counted failed, nothing is left pending.
    (Before: ``aclose`` waited its own 5 s for the background tasks.)"""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, shutdown_timeout_seconds=BUDGET)
    auth.add_hook("login.pre", lambda: release.wait(30), timeout=30, name="decides_slowly")

    async def hangs_async() -> None:
        await asyncio.Event().wait()

    auth.add_hook("login.post", lambda: release.wait(30), background=True, timeout=30, name="hangs_sync")
    auth.add_hook("login.post", hangs_async, background=True, timeout=30, name="hangs_async")
    in_flight = asyncio.ensure_future(auth.fire("login.pre", subject="alice"))
    await auth.fire("login.post", subject="alice")
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await auth.aclose()
    took = time.perf_counter() - started
    in_flight.cancel()
    assert took < BUDGET + MARGIN, took
    assert auth.background_stats.failed >= 1


def test_close_with_a_hung_hook_is_bounded(tmp_path: Path, release: threading.Event) -> None:
    """The sync twin: ``close()`` with a sync background hook that never returns, ``shutdown_timeout_seconds=1``.
    Bounded outcome: ``close()`` returns in < 1 + ``MARGIN`` s."""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, shutdown_timeout_seconds=BUDGET)
    auth.add_hook("login.post", lambda: release.wait(30), background=True, timeout=30)
    auth.sync.fire("login.post", subject="alice")
    time.sleep(0.1)
    started = time.perf_counter()
    auth.close()
    assert time.perf_counter() - started < BUDGET + MARGIN


_SCRIPT = """
import asyncio, sys
from authhooks import AuthHooks

async def main() -> None:
    auth = AuthHooks()
    handle = auth.setup_telemetry()
    assert handle.installed, handle
    auth.add_hook("login.post", lambda: None)
    for _ in range(20):
        await auth.fire("login.post", subject="alice")
    print("closing", flush=True)
    if sys.argv[1] == "aclose":
        await auth.aclose()
    else:
        auth.close()
    print("closed", flush=True)

asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["aclose", "close"])
def test_process_exits_on_time_when_the_otlp_collector_is_a_black_hole(
    tmp_path: Path, black_hole: BlackHole, how: str
) -> None:
    """A process with telemetry set up for OTLP/HTTP (traces and metrics) to an endpoint that accepts and never
    answers, ``AUTHHOOKS_SHUTDOWN_TIMEOUT_SECONDS=1``. Bounded outcome: from the start of ``aclose()`` (or
    ``close()``) to the exit of the process, < 1 + ``PROCESS_MARGIN`` (2.5) s, exit status 0.
    (Before: 48-87 s — the flush waited for the exporter's timeouts and retries, then the SDK's at-exit
    shutdown waited again.)"""
    script = tmp_path / "app.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), how],
        env=child_env(black_hole, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        started = time.perf_counter()
        assert line.strip() == "closing", (line, proc.stderr.read() if proc.stderr else "")
        code = proc.wait(60)
        took = time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert code == 0
    assert took < BUDGET + PROCESS_MARGIN, took


@pytest.mark.slow
def test_uvicorn_stops_on_time_with_a_black_hole_collector_and_a_hung_hook(
    tmp_path: Path, black_hole: BlackHole
) -> None:
    """uvicorn serving ``tests/reliability/_shutdown_app.py``: OTLP/HTTP to a black hole, and a background hook
    that hangs on every refused token (a few have been refused), ``AUTHHOOKS_SHUTDOWN_TIMEOUT_SECONDS=1``.
    Bounded outcome: after SIGTERM the process exits in < 1 + ``PROCESS_MARGIN`` (2.5) s.
    (Before: the background drain took its 5 s, then the flush waited for the exporter.)"""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = child_env(black_hole, tmp_path)
    env.update(AUTHHOOKS_PROTECT="/api/**", AUTHHOOKS_PUBLIC_PATHS="/health")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "tests.reliability._shutdown_app:app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        for _ in range(3):
            response = httpx.get(f"{url}/api/me", headers={"authorization": "Bearer not-a-token"}, timeout=5)
            assert response.status_code == 401
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        took = time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled, after its shutdown
    assert took < BUDGET + PROCESS_MARGIN, took


class _Handle:
    """Stands for the SDK handle of ``auth.setup_telemetry()``; counts what is asked of it."""

    def __init__(self) -> None:
        self.flushes = 0
        self.shutdowns = 0
        self.closed = False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.flushes += 1
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        self.shutdowns += 1
        self.closed = True
        return True

    async def ashutdown(self, timeout: float) -> bool:
        return self.shutdown(timeout)


async def test_the_lifespan_shutdown_flushes_telemetry_once(tmp_path: Path) -> None:
    """The middleware's lifespan shutdown calls ``aclose``, which shuts the telemetry down (flushing it) within
    the budget; the middleware does not flush again. Outcome: one shutdown, no separate flush.
    (Before: ``aclose`` flushed, then the middleware flushed again, each with the SDK's 30 s default.)"""
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, shutdown_timeout_seconds=BUDGET)
    handle = _Handle()
    auth.telemetry_handle = handle

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await AuthHooksMiddleware(app, auth=auth)({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert (handle.shutdowns, handle.flushes) == (1, 0)
