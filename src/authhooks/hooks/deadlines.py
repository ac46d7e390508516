"""Deadlines for awaits: a shared watchdog timer per event loop, and shutdown work run in abandonable threads."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["Expired", "Watchdog", "run_in_thread", "run_in_thread_sync", "within"]

T = TypeVar("T")


if sys.version_info >= (3, 11):

    async def within(aw: Awaitable[T], timeout: float) -> T:
        # asyncio.timeout arms one timer handle; wait_for would wrap the awaitable in a task (≈3x the cost)
        async with asyncio.timeout(timeout):
            return await aw

else:  # pragma: no cover - Python 3.10

    async def within(aw: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(aw, timeout)


class Expired(Exception):
    """A watched await ran past its deadline."""


class _Run:
    __slots__ = ("deadline", "fired", "task")

    def __init__(self, deadline: float, task: asyncio.Task[Any]) -> None:
        self.deadline = deadline
        self.task = task
        self.fired = False


class Watchdog:
    """Timeouts for awaits on one event loop, with one timer for all of them, set for the earliest deadline.

    Like ``asyncio.timeout`` but without a timer handle per await (about 10 µs each, made and cancelled): an
    await costs a dict insert and removal, the timer fires about once per deadline.
    """

    __slots__ = ("handle", "loop", "runs", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.runs: dict[_Run, None] = {}
        self.handle: asyncio.TimerHandle | None = None
        self.when = 0.0

    def add(self, run: _Run) -> None:
        self.runs[run] = None
        if self.handle is None or run.deadline < self.when:
            self._arm(run.deadline)

    def _arm(self, when: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.when = when
        self.handle = self.loop.call_at(when, self._check)

    def _check(self) -> None:
        self.handle = None
        now = self.loop.time()
        earliest: float | None = None
        for run in self.runs:
            if run.fired:
                continue
            if run.deadline <= now:
                run.fired = True
                run.task.cancel()
            elif earliest is None or run.deadline < earliest:
                earliest = run.deadline
        if earliest is not None:
            self._arm(earliest)

    async def watch(self, aw: Awaitable[T], timeout: float) -> T:
        """Await ``aw`` in the current task (on this loop), cancelling it at ``timeout``.

        Raises:
            Expired: the timeout passed (the awaitable was cancelled, or swallowed its cancellation).
        """
        loop = self.loop
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - awaited outside a task (a bare coroutine driven by hand)
            try:
                return await within(aw, timeout)
            except (TimeoutError, asyncio.TimeoutError):
                raise Expired from None
        run = _Run(loop.time() + timeout, task)
        self.add(run)
        try:
            result = await aw
        except asyncio.CancelledError:
            if not run.fired:
                raise
            self.runs.pop(run, None)
            _uncancel(task)
            if any(other.fired and other.task is task for other in self.runs):
                task.cancel()  # an enclosing watched await expired too: its cancellation was used up here
            raise Expired from None
        finally:
            self.runs.pop(run, None)
        if run.fired:  # the hook swallowed its cancellation: it still ran past its timeout
            _uncancel(task)
            raise Expired
        return result


def _uncancel(task: asyncio.Task[Any]) -> None:
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+: undo our cancel() for structured concurrency
    if uncancel is not None:
        uncancel()


async def run_in_thread(fn: Callable[[], object], timeout: float, name: str = "authhooks-shutdown") -> bool:
    """Run ``fn()`` in a new daemon thread and await it at most ``timeout`` seconds; True when it finished.

    For shutdown work that may block past any budget (a flush to an unreachable collector): unlike
    ``asyncio.to_thread`` it does not use the loop's default executor, which ``asyncio.run`` waits for without
    a bound when the loop closes. Exceptions of ``fn`` are re-raised.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[BaseException | None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not done.done():
            done.set_result(error)

    def target() -> None:
        error: BaseException | None = None
        try:
            fn()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    try:
        error = await within(asyncio.shield(done), max(0.0, timeout))
    except (TimeoutError, asyncio.TimeoutError):
        return False
    if error is not None:
        raise error
    return True


def run_in_thread_sync(fn: Callable[[], object], timeout: float, name: str = "authhooks-shutdown") -> bool:
    """The blocking twin of :func:`run_in_thread`: run ``fn()`` in a daemon thread, wait at most ``timeout``
    seconds; True when it finished (its exception re-raised), False when it was left running."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the waiting caller
            errors.append(exc)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))
    if thread.is_alive():
        return False
    if errors:
        raise errors[0]
    return True
