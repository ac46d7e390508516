"""Where hook runs happen, and how long they may take: the bounded executor of blocking hooks and the timeouts.

Every hook run is bounded (product.md §10): a hook without its own ``timeout=`` gets
``Settings.hook_timeout_seconds`` (5 s by default). How a run is bounded depends on the hook and the driver:

============================ ============================================ ============================================
hook                         async driver (ASGI, ``await auth.…``)        sync driver (``*_sync``, WSGI)
============================ ============================================ ============================================
sync (the default)           on the runner's threads, awaited with the    on the runner's threads, the caller waits
                             timeout: the event loop never blocks         at most the timeout
sync, ``inline=True``        called on the loop (no thread hop, no        called in the caller's thread (no thread
                             timeout: it must not block)                  hop, no timeout)
async                        awaited on the loop under the timeout        refused (``HookError``)
                             (cancelled when it expires)
============================ ============================================ ============================================

The runner's threads are its own (``Settings.hook_workers``, 8 by default), never the event loop's default
executor, so hung hooks cannot starve ``asyncio.to_thread`` users nor the other way round. A run waits for a free
thread at most its timeout: when every thread is held by a hung hook, later runs time out (``HookFailed``, 503,
under ``deny``), they do not queue without bound. A timed-out run whose thread is still running is **abandoned**:
Python cannot stop a thread, so it keeps its thread until the hook returns; :attr:`HookRunner.stats` counts
these runs (``abandoned``) and how many still hold a thread (``abandoned_running``). The threads are daemon
threads, so a hook that never returns cannot keep the process from exiting, and :meth:`HookRunner.close` waits
for running hooks at most the time it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from authhooks.hooks.deadlines import Expired, Watchdog

if TYPE_CHECKING:
    from authhooks.hooks.context import HookContext
    from authhooks.hooks.registry import HookImpl

__all__ = ["HookRunner", "HookStats", "HookTimeout", "runner_for"]

T = TypeVar("T")

_IDLE_SECONDS = 10.0
"""A thread with nothing to run for this long ends (an unused AuthHooks must not keep threads forever)."""

_Item = tuple["Future[Any] | _LoopJob", Callable[..., Any], tuple[Any, ...]]


class HookTimeout(TimeoutError):
    """A hook run cut at its timeout.

    Attributes:
        abandoned: the hook was still running in a runner thread when its caller stopped waiting.
    """

    def __init__(self, message: str, *, abandoned: bool = False) -> None:
        super().__init__(message)
        self.abandoned = abandoned


@dataclass(frozen=True, slots=True)
class HookStats:
    """Counters of a :class:`HookRunner` (monotonic since start, except ``abandoned_running``).

    Attributes:
        workers: the size of the thread pool for blocking hooks.
        timeouts: hook runs cut at their timeout (sync and async; those that never got a thread included).
        abandoned: timed-out runs whose thread was still running the hook.
        abandoned_running: abandoned runs whose hook has not returned yet (each holds a thread).
    """

    workers: int
    timeouts: int
    abandoned: int
    abandoned_running: int


class _LoopJob:
    """A run for a coroutine on an event loop: the worker hands the result straight to an asyncio future.

    Cheaper than a ``concurrent.futures.Future`` wrapped with ``asyncio.wrap_future`` (about half the time per
    run). ``claim`` decides who owns a run that has not started: the worker (it runs it) or a caller that timed
    out (it never runs).
    """

    __slots__ = ("abandoned", "claim", "finished", "loop", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiter: asyncio.Future[Any] = loop.create_future()
        self.claim = threading.Lock()
        self.finished = self.abandoned = False

    def execute(self, fn: Callable[..., Any], args: tuple[Any, ...], runner: HookRunner) -> None:
        if not self.claim.acquire(blocking=False):
            return  # the caller gave up before a thread was free
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the caller; the worker lives on
            error = exc
        with runner._lock:
            self.finished = True
            if self.abandoned:
                runner._abandoned_running -= 1
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self.loop.call_soon_threadsafe(self._settle, result, error)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        if self.waiter.done():  # the caller stopped waiting
            return
        if error is not None:
            self.waiter.set_exception(error)
        else:
            self.waiter.set_result(result)

    def cancel(self) -> bool:
        """Withdraw a run that has not started (close() does so for the runs still queued)."""
        if not self.claim.acquire(blocking=False):
            return False
        error = RuntimeError("the hook runner was closed before this run got a thread")
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._settle, None, error)
        return True


class HookRunner:
    """The bounded pool of daemon threads that runs blocking hooks, and the counters of cut runs.

    One per :class:`~authhooks.AuthHooks` (which closes it); the registry hands it to every hook it registers.

    Args:
        workers: threads for blocking hooks; more runs at once wait (each at most its timeout).
    """

    def __init__(self, workers: int = 8) -> None:
        if workers < 1:
            raise ValueError("a hook runner needs at least one worker")
        self.workers = workers
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._timeouts = self._abandoned = self._abandoned_running = 0
        self._dog: Watchdog | None = None

    @property
    def stats(self) -> HookStats:
        """The runner's counters."""
        with self._lock:
            return HookStats(self.workers, self._timeouts, self._abandoned, self._abandoned_running)

    # -- the pool ---------------------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a runner thread (in a copy of the caller's context); return its future."""
        future: Future[T] = Future()
        self._queue.put((future, contextvars.copy_context().run, (fn, *args)))
        if not self._idle.acquire(blocking=False):
            self._spawn()
        return future

    def _spawn(self) -> None:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self.workers:
                return
            thread = threading.Thread(target=self._work, name=f"authhooks-hook-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            try:
                item = get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    # leave only if no submitter counted on this thread being idle (it took the permit)
                    if self._idle.acquire(blocking=False):
                        if threading.current_thread() in self._threads:
                            self._threads.remove(threading.current_thread())
                        return
                continue
            if item is None:  # close(): take back this thread's idle permit, so the count stays true
                self._idle.acquire(blocking=False)
                return
            future, fn, args = item
            del item
            if isinstance(future, _LoopJob):
                future.execute(fn, args, self)
            elif future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:  # the caller sees it; the worker lives on
                    future.set_exception(exc)
                    del exc
                else:
                    future.set_result(result)
                    del result
            del future, fn, args
            self._idle.release()

    # -- bounded runs -----------------------------------------------------------------------------------------

    def call_sync(self, h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
        """Run the sync hook ``h`` on a runner thread; wait at most its timeout.

        Raises:
            HookTimeout: the hook did not finish (or did not get a thread) in time.
        """
        future = self.submit(h.call, values, ctx)
        try:
            return future.result(h.timeout)
        except FutureTimeout:
            raise self._timed_out(h, future) from None

    async def call_async(self, h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
        """Run the sync hook ``h`` on a runner thread and await it (at most its timeout) without blocking the loop.

        Raises:
            HookTimeout: the hook did not finish (or did not get a thread) in time.
        """
        job = _LoopJob(asyncio.get_running_loop())
        self._queue.put((job, contextvars.copy_context().run, (h.call, values, ctx)))
        if not self._idle.acquire(blocking=False):
            self._spawn()
        if h.timeout is None:
            return await job.waiter
        try:
            return await self._watch(job.waiter, h.timeout)
        except Expired:
            pass
        # a run still waiting for a thread is claimed here, so it never starts
        started = not job.claim.acquire(blocking=False)
        with self._lock:
            self._timeouts += 1
            abandoned = job.abandoned = started and not job.finished
            if abandoned:
                self._abandoned += 1
                self._abandoned_running += 1
        raise HookTimeout(f"hook {h.name!r} at {h.point.name} timed out after {h.timeout}s", abandoned=abandoned)

    async def await_hook(self, h: HookImpl, aw: Awaitable[Any]) -> Any:
        """Await what an async hook returned, at most its timeout (the hook is cancelled when it expires).

        Raises:
            HookTimeout: the timeout expired.
        """
        if h.timeout is None:
            return await aw
        try:
            return await self._watch(aw, h.timeout)
        except Expired:
            with self._lock:
                self._timeouts += 1
            raise HookTimeout(f"hook {h.name!r} at {h.point.name} timed out after {h.timeout}s") from None

    async def _watch(self, aw: Awaitable[T], timeout: float) -> T:
        loop = asyncio.get_running_loop()
        dog = self._dog
        if dog is None or dog.loop is not loop:
            dog = self._dog = Watchdog(loop)
        return await dog.watch(aw, timeout)

    def _timed_out(self, h: HookImpl, future: Future[Any]) -> HookTimeout:
        # cancel() succeeds only for a run still waiting for a thread: it will never start
        abandoned = not future.cancel() and not future.done()
        with self._lock:
            self._timeouts += 1
            if abandoned:
                self._abandoned += 1
                self._abandoned_running += 1
        if abandoned:
            future.add_done_callback(self._returned)
        return HookTimeout(f"hook {h.name!r} at {h.point.name} timed out after {h.timeout}s", abandoned=abandoned)

    def _returned(self, _: Future[Any]) -> None:
        with self._lock:
            self._abandoned_running -= 1

    # -- shutdown ---------------------------------------------------------------------------------------------

    def close(self, timeout: float) -> bool:
        """Cancel the runs still waiting for a thread, then wait at most ``timeout`` seconds for running hooks.

        Threads still running a hook afterwards are left to it (they are daemon threads). The runner stays
        usable: a later run starts new threads.

        Returns:
            True when every thread ended in time.
        """
        with self._lock:
            threads, self._threads = self._threads, []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._idle = threading.Semaphore(0)
        return not any(t.is_alive() for t in threads)


_shared: HookRunner | None = None


def runner_for(h: HookImpl) -> HookRunner:
    """The runner of ``h``: its registry's, or a shared one for a :class:`HookImpl` made by hand."""
    global _shared
    if h.runner is not None:
        return h.runner
    if _shared is None:
        _shared = HookRunner()
    return _shared
