"""Helpers for testing hooks: a recorder of which hooks ran, in what order, with what decision.

Installed as a pytest plugin (entry point ``pytest11``), it offers the ``hook_recorder`` fixture::

    def test_rate_limit_denies(hook_recorder):
        auth = AuthHooks(store_url="memory://")
        auth.add_hook("challenge.pre", deny_after_three, name="rate_limit")
        recorder = hook_recorder(auth)
        ...
        assert recorder.decisions("rate_limit") == ["continue", "continue", "continue", "deny"]

Without pytest, attach a :class:`HookRecorder` with ``auth.add_observer(HookRecorder())``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from authhooks.events import Outcome
from authhooks.hooks.observer import FlowRun, HookRecord

__all__ = ["HookRecorder", "hook_recorder"]


class HookRecorder:
    """An observer that keeps every hook record and every ended flow run (thread-safe).

    Attributes:
        records: every :class:`~authhooks.hooks.observer.HookRecord`, in the order the hooks ran.
        flows: every ended :class:`~authhooks.hooks.observer.FlowRun`, in the order they ended.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[HookRecord] = []
        self.flows: list[FlowRun] = []

    def flow_started(self, run: FlowRun) -> None:
        """Part of the observer protocol; nothing to keep yet."""

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Keep the record."""
        with self._lock:
            self.records.append(record)

    def flow_ended(self, run: FlowRun) -> None:
        """Keep the ended run."""
        with self._lock:
            self.flows.append(run)

    def names(self, point: str | None = None) -> list[str]:
        """The names of the hooks that ran (at ``point``, when given), in order."""
        return [r.hook for r in self.records if point is None or r.point == point]

    def decisions(self, hook: str | None = None) -> list[str]:
        """The decisions (as strings) of every run of ``hook`` (or of every hook), in order."""
        return [r.decision.value for r in self.records if hook is None or r.hook == hook]

    def outcomes(self, flow: str | None = None) -> list[tuple[str, Outcome, str | None]]:
        """``(flow, outcome, reason)`` of every ended flow (of ``flow``, when given)."""
        return [(f.flow, f.outcome, f.reason) for f in self.flows if flow is None or f.flow == flow]

    def last(self, hook: str) -> HookRecord:
        """The most recent record of ``hook``; raises ``LookupError`` when it never ran."""
        for record in reversed(self.records):
            if record.hook == hook:
                return record
        raise LookupError(f"hook {hook!r} never ran; ran: {self.names()}")

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self.records.clear()
            self.flows.clear()


def _hook_recorder() -> Iterator[Callable[[Any], HookRecorder]]:
    """Return ``attach(auth) -> HookRecorder``; every recorder is detached when the test ends."""
    attached: list[tuple[Any, HookRecorder]] = []

    def attach(auth: Any) -> HookRecorder:
        recorder = HookRecorder()
        auth.add_observer(recorder)
        attached.append((auth, recorder))
        return recorder

    yield attach
    for auth, recorder in attached:
        auth.remove_observer(recorder)


try:  # the fixture exists only where pytest does; HookRecorder works without it
    import pytest
except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
else:
    hook_recorder = pytest.fixture(name="hook_recorder")(_hook_recorder)
