"""The one seam where telemetry, audit and the testing helper watch flows and hook runs.

The drivers call an :class:`Observer` when a flow starts and ends, and the dispatcher calls it after every hook
run. Hook code never touches a tracer: everything an operator sees is recorded here, from these records.

Records carry names, decisions, durations and low-cardinality reasons only, never inputs (which may hold
tokens, signatures or passwords). The subject is kept on :class:`FlowRun` for observers that are allowed to
record it (``AUTHHOOKS_RECORD_SUBJECT``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from authhooks.events import Decision, Outcome
from authhooks.records import RequestInfo

__all__ = ["FlowRun", "HookRecord", "Observer"]


class HookRecord(NamedTuple):
    """One hook run, as observers see it (an immutable named tuple: one is made per observed hook run).

    Attributes:
        hook: the hook's name (its ``name=`` or qualified function name).
        point: the hook point name (``"login.pre"``).
        stage: the stage part of the point.
        decision: what the run decided.
        duration: seconds the run took (0.0 for ``skipped``/``queued``/``dropped``).
        enforced: False for shadow-mode hooks.
        background: True when the run happened in the background queue.
        error_type: the exception class name for ``error``/``timeout`` runs, else ``None``.
        reason: the denial reason for ``deny``/``shadow_deny`` runs, else ``None``.
        abandoned: a ``timeout`` run whose hook was still running in its thread when the flow went on.
    """

    hook: str
    point: str
    stage: str
    decision: Decision
    duration: float = 0.0
    enforced: bool = True
    background: bool = False
    error_type: str | None = None
    reason: str | None = None
    abandoned: bool = False


@dataclass(slots=True, eq=False)
class FlowRun:
    """One run of one flow: created by a driver, handed to every observer, closed when the flow ends.

    Observers may keep their own state in ``state`` (keyed by the observer) — e.g. the span and the context
    token. ``parent`` is the flow run this one nests in (``verify_signature`` inside ``login``).

    Attributes:
        flow: the flow name.
        request: the HTTP request, when there is one.
        subject: the subject the flow is about, once known (observers record it only when allowed).
        outcome: set when the flow ends.
        reason: the low-cardinality reason of a failure or denial.
        fault: the exception of a fault (key set unreachable, hook crash, store down), else ``None``.
        hooks: the decision trail: every hook record of this run, in order.
        started: ``time.perf_counter()`` at start.
        duration: seconds, set when the flow ends.
        details: low-cardinality facts the flow noted (``required_scopes`` for ``authorize``), else ``None``.
    """

    flow: str
    request: RequestInfo | None = None
    parent: FlowRun | None = None
    subject: str | None = None
    outcome: Outcome = Outcome.NONE
    reason: str | None = None
    fault: BaseException | None = None
    hooks: list[HookRecord] = field(default_factory=list)
    state: dict[Any, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    duration: float = 0.0
    details: dict[str, Any] | None = None
    observers: tuple[Any, ...] = field(default=(), repr=False)
    """The observers watching this run (those active when it started)."""


class Observer(Protocol):
    """Watches flows and hook runs. Implementations must not raise; the engine logs and ignores it if they do.

    Methods are called on the thread/task running the flow, except :meth:`hook_ran` for background hooks,
    which is called from the background worker with ``record.background`` set and the queuing flow's run.

    An observer may also define a boolean ``active`` attribute or property: when it is false at the start of a
    flow, that flow runs as if the observer were absent (telemetry uses this to cost nothing until an
    OpenTelemetry SDK is installed).
    """

    def flow_started(self, run: FlowRun) -> None:
        """A flow began (``run.outcome`` is still ``none``)."""

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """A hook ran (or was skipped, queued or dropped) within ``run``."""

    def flow_ended(self, run: FlowRun) -> None:
        """A flow ended; ``outcome``, ``reason``, ``fault`` and ``duration`` are set."""
