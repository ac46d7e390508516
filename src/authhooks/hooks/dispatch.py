"""Hook dispatch: run a point's hooks in order, interpret their returns, apply error policies.

There are two dispatchers with identical semantics: :func:`dispatch_sync` (the WSGI driver and the ``*_sync``
API) and :func:`dispatch_async` (the ASGI driver and the async API). They are the one place that times hook
runs and reports them to observers (telemetry, audit, the testing helper); hooks never see a tracer.

Semantics (product.md §4):

- **decision** points: ``None`` continues; a mapping updates the named inputs in place (so the next hook sees
  them; a name outside the point's ``mutable`` set is a :class:`~authhooks.errors.HookError`, handled by the
  hook's error policy); a :class:`~authhooks.errors.Deny` returned or raised stops the chain.
- **provide** points: the first non-``None`` return ends the chain and becomes the result.
- **notification** points: returns are ignored; ``background=True`` hooks are queued.
- **errors and timeouts**: policy ``raise`` propagates (a timeout as ``HookError``), ``ignore`` logs and
  continues, ``deny`` stops the chain with :class:`~authhooks.errors.HookFailed` (503).
- **where hooks run**: sync hooks on the bounded threads of :class:`~authhooks.hooks.runner.HookRunner` under
  their timeout (``inline=True`` ones in the caller's thread), async hooks on the loop under their timeout; see
  :mod:`authhooks.hooks.runner`.
- **shadow mode** (``enforce=False``): the hook runs, its denial (or failure under ``deny``) is recorded as
  ``shadow_deny`` and nothing it returns takes effect.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any

from authhooks.errors import Deny, HookError, HookFailed
from authhooks.events import Decision
from authhooks.hooks.context import HookContext
from authhooks.hooks.observer import FlowRun, HookRecord, Observer
from authhooks.hooks.points import HookPoint, PointKind
from authhooks.hooks.registry import HookImpl
from authhooks.hooks.runner import runner_for as _runner

__all__ = ["NO_RESULT", "dispatch_async", "dispatch_sync", "notify_observers"]

logger = logging.getLogger("authhooks.hooks")

NO_RESULT: Any = None
"""What dispatch returns when no provide hook produced a result."""


def notify_observers(observers: tuple[Observer, ...], run: FlowRun, record: HookRecord) -> None:
    """Hand a hook record to every observer, never letting an observer's failure reach the flow."""
    run.hooks.append(record)
    for observer in observers:
        try:
            observer.hook_ran(run, record)
        except Exception:
            logger.exception("an observer failed while recording a hook run")


class _Outcome:
    """What one hook run meant for the chain."""

    __slots__ = ("abandoned", "decision", "denial", "error_type", "reason", "result", "stop")

    def __init__(self) -> None:
        self.abandoned = False
        self.decision = Decision.CONTINUE
        self.denial: Deny | None = None
        self.result: Any = None
        self.stop = False
        self.error_type: str | None = None
        self.reason: str | None = None


_CONTINUE = _Outcome()
"""The outcome of a run that returned nothing (shared: never mutated)."""


def _interpret(h: HookImpl, r: Any, values: dict[str, Any]) -> _Outcome:
    """Turn a hook's return into a decision; raises HookError for a return the point does not allow."""
    point = h.point
    if r is None or point.kind is PointKind.NOTIFICATION:
        return _CONTINUE
    out = _Outcome()
    if isinstance(r, Deny):
        return _denied(h, r, out)
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


def _denied(h: HookImpl, denial: Deny, out: _Outcome) -> _Outcome:
    if h.point.kind is PointKind.NOTIFICATION:
        return out
    out.reason = denial.reason
    if h.enforce:
        out.decision, out.denial, out.stop = Decision.DENY, denial, True
    else:
        out.decision = Decision.SHADOW_DENY
    return out


def _failed(h: HookImpl, exc: BaseException, timed_out: bool) -> _Outcome:
    """Apply the hook's error policy to an exception it raised (or a timeout)."""
    if h.on_error == "raise":
        if timed_out:
            raise HookError(f"hook {h.name!r} at {h.point.name} timed out after {h.timeout}s") from exc
        raise exc
    out = _Outcome()
    out.abandoned = bool(getattr(exc, "abandoned", False))
    out.decision = Decision.TIMEOUT if timed_out else Decision.ERROR
    out.error_type = "TimeoutError" if timed_out else type(exc).__name__
    # Only the exception type is logged: a hook's message may quote a credential it was given.
    logger.warning(
        "hook %r at %s %s (%s); policy %s",
        h.name,
        h.point.name,
        "timed out" if timed_out else "failed",
        out.error_type,
        h.on_error,
    )
    if h.on_error == "deny":
        if h.enforce:
            out.denial, out.stop = HookFailed(h.name, exc, timeout=timed_out), True
            out.reason = out.denial.reason
        else:
            out.decision = Decision.SHADOW_DENY
            out.reason = "hook_timeout" if timed_out else "hook_error"
    return out


def _record(run: FlowRun | None, observers: tuple[Observer, ...], h: HookImpl, out: _Outcome, started: float) -> None:
    if run is None:
        return
    record = HookRecord(
        hook=h.name,
        point=h.point.name,
        stage=h.point.stage,
        decision=out.decision,
        duration=time.perf_counter() - started if started else 0.0,
        enforced=h.enforce,
        error_type=out.error_type,
        reason=out.reason,
        abandoned=out.abandoned,
    )
    notify_observers(observers, run, record)


def _skip(run: FlowRun | None, observers: tuple[Observer, ...], h: HookImpl, decision: Decision) -> None:
    if run is not None:
        out = _Outcome()
        out.decision = decision
        _record(run, observers, h, out, 0.0)


# -- sync ----------------------------------------------------------------------------------------------------


def _call_sync(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    if h.is_async:
        raise HookError(f"async hook {h.name!r} at {h.point.name} cannot run under the sync driver")
    if h.timeout is None:  # inline, or timeouts turned off: nothing to bound, so no thread hop
        return h.call(values, ctx)
    return _runner(h).call_sync(h, values, ctx)


def dispatch_sync(
    point: HookPoint,
    hooks: tuple[HookImpl, ...],
    values: dict[str, Any],
    ctx: HookContext,
    run: FlowRun | None = None,
    observers: tuple[Observer, ...] = (),
    background: Any = None,
) -> Any:
    """Run ``hooks`` (the point's tuple) with ``values``; return a provide result or :data:`NO_RESULT`.

    ``values`` is updated in place by modifying hooks. Raises the enforced :class:`~authhooks.errors.Deny`
    (or :class:`~authhooks.errors.HookFailed`) that stopped the chain, or a hook's exception under ``raise``.
    ``run`` (when given) receives one :class:`HookRecord` per hook; ``background`` is the queue for
    ``background=True`` hooks.
    """
    for h in hooks:
        if run is None and h.fast and not h.is_async:
            try:
                r = h.call(values, ctx)
            except Deny as denial:
                if h.point.kind is PointKind.NOTIFICATION:
                    continue  # notification hooks observe; they cannot stop a flow that already happened
                raise denial from None
            except Exception as exc:
                out = _failed(h, exc, False)
            else:
                if r is None:
                    continue
                try:
                    out = _interpret(h, r, values)
                except HookError as exc:
                    out = _failed(h, exc, False)
            if out.stop:
                if out.denial is not None:
                    raise out.denial
                return out.result
            continue
        started = time.perf_counter() if run is not None else 0.0
        try:
            if h.condition is not None:
                if h.condition_is_async:
                    raise HookError(f"async condition of hook {h.name!r} cannot run under the sync driver")
                if not h.condition(values, ctx):
                    _skip(run, observers, h, Decision.SKIPPED)
                    continue
            if h.background:
                queued = background is not None and background.submit_sync(h, dict(values), ctx, run, observers)
                _skip(run, observers, h, Decision.QUEUED if queued else Decision.DROPPED)
                continue
            r = _call_sync(h, values, ctx)
            out = _interpret(h, r, values)
        except Deny as denial:
            out = _denied(h, denial, _Outcome())
        except TimeoutError as exc:
            out = _failed(h, exc, True)
        except Exception as exc:
            out = _failed(h, exc, False)
        _record(run, observers, h, out, started)
        if out.stop:
            if out.denial is not None:
                raise out.denial
            return out.result
    return NO_RESULT


# -- async ---------------------------------------------------------------------------------------------------


async def _call_async(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    runner = _runner(h)
    if h.is_async:
        return await runner.await_hook(h, h.call(values, ctx))
    # a sync hook may block: off the loop, on the runner's bounded threads, unless declared inline
    r = h.call(values, ctx) if h.inline else await runner.call_async(h, values, ctx)
    if r is not None and inspect.isawaitable(r):
        r = await runner.await_hook(h, r)
    return r


async def _condition_async(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> bool:
    assert h.condition is not None
    r = h.condition(values, ctx)
    if h.condition_is_async or inspect.isawaitable(r):
        r = await r
    return bool(r)


async def dispatch_async(
    point: HookPoint,
    hooks: tuple[HookImpl, ...],
    values: dict[str, Any],
    ctx: HookContext,
    run: FlowRun | None = None,
    observers: tuple[Observer, ...] = (),
    background: Any = None,
) -> Any:
    """The async twin of :func:`dispatch_sync`: sync hooks run on the runner's threads (``inline`` ones on the
    loop), async hooks are awaited on the loop, each under its timeout."""
    for h in hooks:
        if run is None and h.fast_async:
            try:
                r = h.call(values, ctx)
                if h.is_async or (r is not None and inspect.isawaitable(r)):
                    r = await r
            except Deny as denial:
                if h.point.kind is PointKind.NOTIFICATION:
                    continue  # notification hooks observe; they cannot stop a flow that already happened
                raise denial from None
            except Exception as exc:
                out = _failed(h, exc, False)
            else:
                if r is None:
                    continue
                try:
                    out = _interpret(h, r, values)
                except HookError as exc:
                    out = _failed(h, exc, False)
            if out.stop:
                if out.denial is not None:
                    raise out.denial
                return out.result
            continue
        started = time.perf_counter() if run is not None else 0.0
        try:
            if h.condition is not None and not await _condition_async(h, values, ctx):
                _skip(run, observers, h, Decision.SKIPPED)
                continue
            if h.background:
                queued = background is not None and background.submit_async(h, dict(values), ctx, run, observers)
                _skip(run, observers, h, Decision.QUEUED if queued else Decision.DROPPED)
                continue
            if h.inline:
                r = h.call(values, ctx)  # declared non-blocking: no thread hop, no coroutine around it
                if r is not None and inspect.isawaitable(r):
                    r = await _runner(h).await_hook(h, r)
            else:
                r = await _call_async(h, values, ctx)
            out = _interpret(h, r, values)
        except Deny as denial:
            out = _denied(h, denial, _Outcome())
        except (TimeoutError, asyncio.TimeoutError) as exc:
            out = _failed(h, exc, True)
        except Exception as exc:
            out = _failed(h, exc, False)
        _record(run, observers, h, out, started)
        if out.stop:
            if out.denial is not None:
                raise out.denial
            return out.result
    return NO_RESULT
