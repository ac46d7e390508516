"""Helpers for testing hooks: a recorder of which hooks ran, in what order, with what decision.

Installed as a pytest plugin (entry point ``pytest11``), it offers the ``hook_recorder`` fixture::

    def test_rate_limit_denies(hook_recorder):
        auth = AuthHooks(store_url="memory://")
        auth.add_hook("challenge.pre", deny_after_three, name="rate_limit")
        recorder = hook_recorder(auth)
        ...
        assert recorder.decisions("rate_limit") == ["continue", "continue", "continue", "deny"]

Without pytest, attach a :class:`HookRecorder` with ``auth.add_observer(HookRecorder())``.

:class:`FlowStepper` steps a sans-IO flow by hand — see each effect it yields, answer it, or throw a fault into it
at that point — so a flow can be tested without a store, a network or a driver::

    stepper = FlowStepper(validate_token(auth.deps, token))
    principal = stepper.run({"get": None})          # every store "get" answers None, the rest by default
    assert [e.op for e in stepper.effects if isinstance(e, StoreCall)] == ["get", "get"]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from authhooks.events import Outcome
from authhooks.flows.effects import Call, Effect, FlowCall, FlowGen, Note, RunHooks, StoreCall, SubFlow
from authhooks.hooks.observer import FlowRun, HookRecord

__all__ = ["FlowStepper", "HookRecorder", "hook_recorder"]

T = TypeVar("T")

Answer = Callable[[Effect], Any] | Mapping[str, Any]
"""How :meth:`FlowStepper.run` answers a store call: a function of the effect (its return is sent, what it raises
is thrown into the flow), or a mapping from store operation to the value to send (an exception instance is
thrown)."""


class FlowStepper(Generic[T]):
    """Drive one flow generator by hand, recording every effect it yields.

    Args:
        flow: a :class:`~authhooks.flows.effects.FlowCall` (what every flow function returns) or a bare flow
            generator.

    Attributes:
        effects: every effect the flow (and the nested flows :meth:`run` steps into) yielded, in order.
        result: the flow's return value, once :attr:`done`.
        done: whether the flow has returned.
    """

    def __init__(self, flow: FlowCall[T] | FlowGen[T]) -> None:
        self._gen: FlowGen[T] = flow.gen if isinstance(flow, FlowCall) else flow
        self.effects: list[Effect] = []
        self.result: T | None = None
        self.done = False
        self._started = False

    def _step(self, advance: Callable[[], Effect]) -> Effect | None:
        try:
            effect = advance()
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            return None
        self.effects.append(effect)
        return effect

    def next(self) -> Effect | None:
        """Start the flow: its first effect (``None`` if it returned at once)."""
        self._started = True
        return self._step(lambda: next(self._gen))

    def send(self, value: Any = None) -> Effect | None:
        """Answer the current effect with ``value``; the next effect, or ``None`` once the flow returned."""
        return self._step(lambda: self._gen.send(value))

    def throw(self, exc: BaseException) -> Effect | None:
        """Raise ``exc`` at the current effect (a store fault, a hook's denial); the next effect, or ``None``.

        Whatever the flow raises in turn propagates to the caller.
        """
        return self._step(lambda: self._gen.throw(exc))

    def default(self, effect: Effect) -> Any:
        """The answer of a world where nothing is registered: no hook runs (``None``), notes are taken, a nested
        flow is stepped through with the same answers, other I/O is not expected (``AssertionError``)."""
        if isinstance(effect, (RunHooks, Note)):
            return None
        raise AssertionError(f"the test did not say how to answer {effect!r}")

    def run(self, answer: Answer | None = None) -> T:
        """Drive the flow to its end: each store call is answered by ``answer``, nested flows are stepped into,
        everything else by :meth:`default`. Returns the flow's result; raises what the flow raises."""
        table = answer if isinstance(answer, Mapping) else None

        def reply(effect: Effect) -> Any:
            if isinstance(effect, SubFlow):
                nested: FlowStepper[Any] = FlowStepper(effect.call)
                nested_result = nested.run(answer)
                self.effects.extend(nested.effects)
                return nested_result
            if callable(answer):
                return answer(effect)
            if table is not None and isinstance(effect, StoreCall) and effect.op in table:
                value = table[effect.op]
                if isinstance(value, BaseException):
                    raise value
                return value
            if isinstance(effect, Call):
                raise AssertionError(f"the test did not say how to answer {effect!r}")
            return self.default(effect)

        effect = self.next() if not self._started else None
        while not self.done:
            assert effect is not None
            try:
                value = reply(effect)
            except AssertionError:
                raise
            except BaseException as exc:  # a fault the answer raised: thrown into the flow at that effect
                effect = self.throw(exc)
                continue
            effect = self.send(value)
        return self.result  # type: ignore[return-value]


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
