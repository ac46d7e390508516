"""Synthetic flow runs driven through observers, as the engine's drivers will."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from authhooks.events import Decision, Outcome, RequestInfo
from authhooks.hooks.observer import FlowRun, HookRecord, Observer

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZUBleGFtcGxlLm9yZyJ9.c2VjcmV0LXNpZ25hdHVyZS1ieXRlcw"
SUBJECT = "alice@example.org"


def record(
    hook: str,
    decision: Decision = Decision.CONTINUE,
    *,
    point: str = "login.pre",
    duration: float = 0.001,
    enforced: bool = True,
    background: bool = False,
    error_type: str | None = None,
    reason: str | None = None,
) -> HookRecord:
    """A hook record; the stage is the point's last part."""
    return HookRecord(
        hook=hook,
        point=point,
        stage=point.rpartition(".")[2],
        decision=decision,
        duration=duration,
        enforced=enforced,
        background=background,
        error_type=error_type,
        reason=reason,
    )


def run_flow(
    observers: Observer | Sequence[Observer],
    flow: str = "login",
    hooks: Iterable[HookRecord] = (),
    *,
    outcome: Outcome = Outcome.SUCCESS,
    reason: str | None = None,
    fault: BaseException | None = None,
    subject: str | None = None,
    parent: FlowRun | None = None,
    request: RequestInfo | None = None,
    duration: float = 0.0032,
) -> FlowRun:
    """flow_started → hook_ran for each record → outcome set → flow_ended, on every observer in order."""
    group = list(observers) if isinstance(observers, Sequence) else [observers]
    run = FlowRun(flow, request=request, parent=parent)
    for o in group:
        o.flow_started(run)
    for r in hooks:
        run.hooks.append(r)
        for o in group:
            o.hook_ran(run, r)
    run.outcome, run.reason, run.fault, run.subject, run.duration = outcome, reason, fault, subject, duration
    for o in reversed(group):
        o.flow_ended(run)
    return run


def report_background(observers: Observer | Sequence[Observer], run: FlowRun, rec: HookRecord) -> None:
    """What the background worker does after the flow ended."""
    group = list(observers) if isinstance(observers, Sequence) else [observers]
    run.hooks.append(rec)
    for o in group:
        o.hook_ran(run, rec)
