"""The bounded queue for ``background=True`` notification hooks.

Slow post hooks (a webhook, a mail) should not hold up the response. A background hook's run is queued with a
snapshot of its inputs; at most ``maxsize`` runs wait or run at once, and a run that does not fit is **dropped
and counted** (``dropped``), never blocking the flow. Async hooks queued by the async driver run as tasks on
the caller's event loop; sync hooks (and anything queued by the sync driver) are fed by one worker thread to the
hook runner, so each run is bounded by its timeout like any other hook run (a hung background hook cannot stop
the queue).
``await auth.aclose()`` / ``auth.close()`` drain the queue (with a bounded wait).

Each job is one run of the hook chain in background mode (:func:`authhooks.hooks.chain.chain` states what that
means): its return is ignored, a failure is logged, recorded and counted (``failed``: an error or a timeout),
never raised. Each run is reported to observers with ``record.background=True`` and the run of the flow that
queued it, so telemetry can link it to that flow.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from authhooks.events import Decision
from authhooks.hooks.chain import chain, finish
from authhooks.hooks.context import HookContext
from authhooks.hooks.deadlines import run_in_thread
from authhooks.hooks.observer import FlowRun, Observer
from authhooks.hooks.registry import HookImpl
from authhooks.hooks.runner import runner_for

__all__ = ["BackgroundQueue", "BackgroundStats"]

_Job = tuple[HookImpl, dict[str, Any], HookContext, "FlowRun | None", "tuple[Observer, ...]"]


@dataclass(frozen=True, slots=True)
class BackgroundStats:
    """Counters of the background queue (monotonic since start)."""

    queued: int
    completed: int
    failed: int
    dropped: int
    pending: int


class BackgroundQueue:
    """A bounded queue of background hook runs.

    Args:
        maxsize: how many runs may wait or run at once; more are dropped and counted.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._pending = 0
        self._queued = self._completed = self._failed = self._dropped = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> BackgroundStats:
        """The queue's counters."""
        with self._lock:
            return BackgroundStats(self._queued, self._completed, self._failed, self._dropped, self._pending)

    def _reserve(self) -> bool:
        with self._lock:
            if self._pending >= self.maxsize:
                self._dropped += 1
                return False
            self._pending += 1
            self._queued += 1
            return True

    def _done(self, decision: Decision) -> None:
        with self._lock:
            self._pending -= 1
            if decision is Decision.ERROR or decision is Decision.TIMEOUT:
                self._failed += 1
            else:
                self._completed += 1

    # -- submission -------------------------------------------------------------------------------------------

    def submit_sync(
        self,
        h: HookImpl,
        values: dict[str, Any],
        ctx: HookContext,
        run: FlowRun | None,
        obs: tuple[Observer, ...],
    ) -> bool:
        """Queue a run (with a snapshot of ``values``) on the worker thread; False (and counted) when full."""
        if not self._reserve():
            return False
        self._ensure_thread()
        self._jobs.put((h, dict(values), ctx, run, obs))
        return True

    def submit_async(
        self,
        h: HookImpl,
        values: dict[str, Any],
        ctx: HookContext,
        run: FlowRun | None,
        obs: tuple[Observer, ...],
    ) -> bool:
        """Queue a run (with a snapshot of ``values``) as a task on the running loop (sync hooks go to the
        worker thread); False (and counted) when full."""
        if not h.is_async:
            return self.submit_sync(h, values, ctx, run, obs)
        if not self._reserve():
            return False
        job = (h, dict(values), ctx, run, obs)
        task = asyncio.get_running_loop().create_task(self._run_async(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    # -- execution: each job is one run of the hook chain (authhooks.hooks.chain) in background mode ------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._work, name="authhooks-background", daemon=True)
                    self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._run_sync(job)
            finally:
                self._jobs.task_done()

    def _run_sync(self, job: _Job) -> None:
        h, values, ctx, run, obs = job
        steps = chain((h,), values, run, obs, background=True)
        next(steps)  # the one step: call h
        result: Any = None
        error: BaseException | None = None
        try:
            bounded = not h.is_async and h.timeout is not None
            result = runner_for(h).call_sync(h, values, ctx) if bounded else h.call(values, ctx)
            if h.is_async or asyncio.iscoroutine(result):
                result = asyncio.run(asyncio.wait_for(result, h.timeout) if h.timeout else result)
        except BaseException as exc:  # a background failure must never kill the worker
            error = exc
        self._done(finish(steps, result, error))

    async def _run_async(self, job: _Job) -> None:
        h, values, ctx, run, obs = job
        steps = chain((h,), values, run, obs, background=True)
        next(steps)  # the one step: call h
        result: Any = None
        error: BaseException | None = None
        try:
            coro = h.call(values, ctx)
            result = await (asyncio.wait_for(coro, h.timeout) if h.timeout else coro)
        except BaseException as exc:  # accounted for first; a cancellation (aclose's deadline) then goes on
            error = exc
        self._done(finish(steps, result, error))
        if error is not None and not isinstance(error, Exception):
            raise error

    # -- draining ---------------------------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) for the worker thread to finish what was queued, then stop it."""
        thread = self._thread
        if thread is None:
            return
        self._jobs.put(None)
        thread.join(timeout)
        self._thread = None

    async def aclose(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) for queued tasks and the worker thread, then stop them."""
        deadline = time.monotonic() + timeout
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:  # let them see the cancellation and account for themselves (a task may ignore it)
                await asyncio.wait(pending, timeout=0.1)
        remaining = max(0.0, deadline - time.monotonic())
        if self._thread is not None:
            # not asyncio.to_thread: the loop's default executor may be full, and asyncio.run waits for it
            await run_in_thread(lambda: self.close(remaining), remaining + 0.05, "authhooks-background-close")
