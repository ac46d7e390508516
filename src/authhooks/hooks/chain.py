"""The rules of a hook chain, written once: a sans-IO generator that the sync, async and background drivers run.

:func:`chain` walks a point's hooks in order. It never calls a hook itself: it yields a :data:`Step` — call this
hook (:data:`CALL`), evaluate its condition (:data:`CHECK`), hand it to the background queue (:data:`QUEUE`) —
and the driver sends back what the step returned, or throws in what it raised. Everything else is decided here
(pluggy's ``_multicall`` shape; the drivers are :func:`~authhooks.hooks.dispatch.dispatch_sync`,
:func:`~authhooks.hooks.dispatch.dispatch_async` and the worker of
:class:`~authhooks.hooks.background.BackgroundQueue`). The rules (product.md §4):

- **order**: hooks run in the order of the point's tuple (the registry sorts it); each hook sees the inputs as
  the hooks before it left them.
- **conditions**: a hook with ``when=`` runs only when its condition is true; otherwise it is recorded as
  ``skipped``. A condition that raises is the hook's failure (below).
- **background**: a ``background=True`` hook (notification points only) is not run by the chain but queued
  with a snapshot of the inputs, recorded as ``queued``, or ``dropped`` when the queue is full (or absent).
- **returns**, by the kind of the point:

  - *decision*: ``None`` continues; a mapping updates the named inputs in place, so the next hook sees them
    (a name outside the point's ``mutable`` set is a :class:`~authhooks.errors.HookError`, handled as a
    failure); any other value is a ``HookError`` too;
  - *provide*: the first value that is not ``None`` (falsy ones included) ends the chain and is its result;
  - *notification*: every return is ignored.

- **denials**: a :class:`~authhooks.errors.Deny` returned or raised at a decision or provide point stops the
  chain, and the driver raises it; later hooks do not run. At a notification point a denial is ignored: the
  flow it would stop has already happened.
- **failures** (an exception, or an error the driver raises because it cannot run the hook: an async hook or
  condition under the sync driver) follow the hook's ``on_error`` policy: ``raise`` propagates it (unrecorded),
  ``ignore`` logs it and continues, ``deny`` logs it and stops the chain with
  :class:`~authhooks.errors.HookFailed` (503). The log line names the hook, the point, the exception's type and
  its message passed through the redactor (:func:`authhooks._redact.scrub`, and opaque token-like runs masked:
  a message may quote a credential, a nonce or a subject it was given), and the policy.
- **timeouts**: a run of a hook that has a ``timeout`` which raises ``TimeoutError`` (the runner's
  :class:`~authhooks.hooks.runner.HookTimeout`) is a failure recorded as ``timeout``; under ``raise`` it
  propagates as a ``HookError`` that names the hook and its timeout. A hook without a timeout cannot time out:
  a ``TimeoutError`` it raises itself is an ordinary failure.
- **shadow mode** (``enforce=False``): the hook runs, but nothing it returns takes effect (no update, no
  result, no stop); a denial, or a failure under ``deny``, is recorded as ``shadow_deny``.
- **background runs** (``background=True`` here: the queue's worker runs one queued hook): the hook's return
  is ignored, a failure of any kind (a cancellation at shutdown included) is logged and recorded but never
  raised nor enforced — the flow that queued it has answered — and the chain returns the run's decision.
- **records**: when the flow is observed (``run`` is not ``None``) every hook gets one
  :class:`~authhooks.hooks.observer.HookRecord` — decision, duration, shadow flag, error type, denial reason,
  whether a timed-out run was abandoned in its thread — handed to every observer as soon as it is decided
  (observers' own failures are logged, never reach the flow). A run that propagates under ``raise`` is not
  recorded.

A chain that stops returns the provide result or raises the denial; one that runs out returns
:data:`NO_RESULT`. :func:`interpret`, :func:`caught` and :func:`conclude` are these rules for one run; the
drivers' plain path (unobserved hooks that need no step, :func:`authhooks.hooks.dispatch._plain`) applies them
directly.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Generator, Mapping
from typing import Any, Final, Literal

from authhooks._redact import REDACTED, scrub
from authhooks.errors import Deny, HookError, HookFailed
from authhooks.events import Decision
from authhooks.hooks.observer import FlowRun, HookRecord, Observer
from authhooks.hooks.points import PointKind
from authhooks.hooks.registry import HookImpl, OnError

__all__ = [
    "CALL",
    "CHECK",
    "NO_RESULT",
    "QUEUE",
    "Outcome",
    "Step",
    "caught",
    "chain",
    "conclude",
    "finish",
    "interpret",
    "notify_observers",
]

logger = logging.getLogger("authhooks.hooks")

Action = Literal["call", "check", "queue"]
CALL: Final = "call"
"""Call the hook; send back its return value (awaited, for an async hook), or throw in what it raised."""
CHECK: Final = "check"
"""Evaluate the hook's condition; send back its value (awaited, for an async condition)."""
QUEUE: Final = "queue"
"""Submit the hook to the background queue with a snapshot of the inputs; send back whether it was queued."""

Step = tuple[Action, HookImpl]
"""What the chain asks its driver to do, and for which hook."""

NO_RESULT: Any = None
"""What a chain returns when no provide hook produced a result."""

_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)  # distinct classes before Python 3.11


class Outcome:
    """What one hook run means for the chain: its decision, and whether (and how) the chain stops there."""

    __slots__ = ("abandoned", "decision", "denial", "error_type", "reason", "result", "stop")

    def __init__(self, decision: Decision = Decision.CONTINUE) -> None:
        self.abandoned = False
        self.decision = decision
        self.denial: Deny | None = None
        self.result: Any = None
        self.stop = False
        self.error_type: str | None = None
        self.reason: str | None = None


_CONTINUE = Outcome()
"""The outcome of a run that changes nothing (shared: never mutated)."""


def interpret(h: HookImpl, r: Any, values: dict[str, Any]) -> Outcome:
    """What the return ``r`` of a run of ``h`` means; applies an enforced update to ``values``.

    Raises:
        HookError: a return the point does not allow (the caller hands it to :func:`caught`).
    """
    point = h.point
    if r is None or point.kind is PointKind.NOTIFICATION:
        return _CONTINUE
    if isinstance(r, Deny):
        return _denied(h, r)
    out = Outcome()
    if point.kind is PointKind.PROVIDE:
        out.decision, out.stop = Decision.PROVIDE, h.enforce
        if h.enforce:
            out.result = r
        return out
    if isinstance(r, Mapping):
        unknown = [k for k in r if k not in point.mutable]
        if unknown:
            allowed = ", ".join(sorted(point.mutable)) or "nothing"
            raise HookError(f"hook {h.name!r} at {point.name} may not change {unknown}; it may change {allowed}")
        if h.enforce:
            values.update(r)
        out.decision = Decision.MODIFY
        return out
    raise HookError(
        f"hook {h.name!r} at {point.name} returned {type(r).__name__}; a decision hook returns None, "
        "a mapping of inputs to change, or a Deny"
    )


def caught(h: HookImpl, exc: BaseException, background: bool = False) -> Outcome:
    """What an exception raised by a run of ``h`` (or by its driver for it) means: a denial, or a failure
    under the hook's policy (``ignore`` for a background run).

    Raises:
        BaseException: ``exc`` itself under ``raise`` (a timeout as :class:`~authhooks.errors.HookError`).
    """
    if isinstance(exc, Deny):
        return _denied(h, exc)
    timed_out = h.timeout is not None and isinstance(exc, _TIMEOUTS)
    return _failed(h, exc, timed_out, "ignore" if background else h.on_error, background)


def conclude(out: Outcome) -> Any:
    """End a chain at a stopping outcome: raise its denial, or return its provide result."""
    if out.denial is not None:
        raise out.denial
    return out.result


def _denied(h: HookImpl, denial: Deny) -> Outcome:
    if h.point.kind is PointKind.NOTIFICATION:
        return _CONTINUE
    out = Outcome(Decision.DENY if h.enforce else Decision.SHADOW_DENY)
    out.reason = denial.reason
    if h.enforce:
        out.denial, out.stop = denial, True
    return out


def _failed(h: HookImpl, exc: BaseException, timed_out: bool, policy: OnError, background: bool) -> Outcome:
    if policy == "raise":
        if timed_out:
            raise HookError(f"hook {h.name!r} at {h.point.name} timed out after {h.timeout}s") from exc
        raise exc
    out = Outcome(Decision.TIMEOUT if timed_out else Decision.ERROR)
    out.abandoned = bool(getattr(exc, "abandoned", False))
    out.error_type = "TimeoutError" if timed_out else type(exc).__name__
    logger.warning(
        "%s %r at %s %s (%s); %s",
        "background hook" if background else "hook",
        h.name,
        h.point.name,
        f"timed out after {h.timeout}s" if timed_out else "failed",
        out.error_type if timed_out else _described(exc),
        "ignored" if background else f"policy {policy}",
    )
    if policy == "deny":
        if h.enforce:
            out.denial, out.stop = HookFailed(h.name, exc, timeout=timed_out), True
            out.reason = out.denial.reason
        else:
            out.decision = Decision.SHADOW_DENY
            out.reason = "hook_timeout" if timed_out else "hook_error"
    return out


_MESSAGE_LIMIT = 300


# A run of 16 or more token characters holding both a letter and a digit: a nonce, a signature, a key subject, a
# password a hook quoted from its inputs — what the redactor's patterns cannot recognise by shape.
_OPAQUE = re.compile(
    r"(?<![A-Za-z0-9_+/=-])(?=[A-Za-z0-9_+/=-]*[0-9])(?=[A-Za-z0-9_+/=-]*[A-Za-z])[A-Za-z0-9_+/=-]{16,}"
)


def _described(exc: BaseException) -> str:
    """``Type: message`` on one line, the message through the redactor (a hook's message may quote a credential
    it was given: :func:`~authhooks._redact.scrub`, then every opaque run of 16+ token characters is masked) and
    cut at a few hundred characters."""
    message = _OPAQUE.sub(REDACTED, scrub(" ".join(str(exc).split())))
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def notify_observers(observers: tuple[Observer, ...], run: FlowRun, record: HookRecord) -> None:
    """Add a hook record to the run's trail and hand it to every observer, never letting an observer's failure
    reach the flow."""
    run.hooks.append(record)
    for observer in observers:
        try:
            observer.hook_ran(run, record)
        except Exception:
            logger.exception("an observer failed while recording a hook run")


def _record(
    run: FlowRun, observers: tuple[Observer, ...], h: HookImpl, out: Outcome, started: float, background: bool
) -> None:
    record = HookRecord(
        hook=h.name,
        point=h.point.name,
        stage=h.point.stage,
        decision=out.decision,
        duration=time.perf_counter() - started if started else 0.0,
        enforced=h.enforce,
        background=background,
        error_type=out.error_type,
        reason=out.reason,
        abandoned=out.abandoned,
    )
    notify_observers(observers, run, record)


_SKIPPED, _QUEUED, _DROPPED = Outcome(Decision.SKIPPED), Outcome(Decision.QUEUED), Outcome(Decision.DROPPED)


def chain(
    hooks: tuple[HookImpl, ...],
    values: dict[str, Any],
    run: FlowRun | None = None,
    observers: tuple[Observer, ...] = (),
    *,
    background: bool = False,
) -> Generator[Step, Any, Any]:
    """Run ``hooks`` by the rules of this module, yielding a :data:`Step` for every call, condition and submission.

    Args:
        hooks: the point's hooks, in call order.
        values: the point's inputs; updated in place by enforced modifications.
        run: the observed flow run, or ``None``: then nothing is recorded.
        observers: who hears each record.
        background: run the one queued hook of a background job (no condition or submission steps).

    Returns:
        The provide result, or :data:`NO_RESULT`; for a background run, the run's :class:`Decision`.

    Raises:
        Deny: the enforced denial (or :class:`~authhooks.errors.HookFailed`) that stopped the chain.
        BaseException: a hook's exception under ``raise``; anything but an ``Exception`` thrown in (outside a
            background run).
    """
    catch = BaseException if background else Exception
    for h in hooks:
        started = time.perf_counter() if run is not None else 0.0
        try:
            if h.condition is not None and not background and not (yield (CHECK, h)):
                out, started = _SKIPPED, 0.0
            elif h.background and not background:
                out, started = (_QUEUED if (yield (QUEUE, h)) else _DROPPED), 0.0
            else:
                r = yield (CALL, h)
                out = _CONTINUE if r is None else interpret(h, r, values)
        except GeneratorExit:  # closed unfinished (a background run counts every other exception as a failure)
            raise
        except catch as exc:
            out = caught(h, exc, background)
        if run is not None:
            _record(run, observers, h, out, started, background)
        if background:
            return out.decision
        if out.stop:
            return conclude(out)
    return NO_RESULT


def finish(gen: Generator[Step, Any, Any], result: Any = None, error: BaseException | None = None) -> Any:
    """Answer the last step of ``gen`` with ``result`` (or throw ``error`` in) and return what the chain returns.

    Raises:
        RuntimeError: the chain asked for another step.
    """
    try:
        if error is None:
            gen.send(result)
        else:
            gen.throw(error)
    except StopIteration as stop:
        return stop.value
    gen.close()
    raise RuntimeError("the hook chain asked for a step after the last one")
