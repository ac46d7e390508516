"""The two drivers of the sans-IO flows: :func:`run_sync` and :func:`run_async`.

Both wrap every flow in the same seam: observers hear ``flow_started`` and ``flow_ended`` (telemetry opens and
closes the flow's span there), the flow's outcome is derived the same way, and every hook run is reported by
the dispatcher.

The drivers are the only place that decides nothing needs to run: a :class:`~authhooks.flows.effects.RunHooks`
at a point without hooks is skipped, a :class:`~authhooks.flows.effects.Note` without a watching observer is
dropped, and a :class:`~authhooks.flows.effects.FlowCall` that has a shortcut is answered by it when its flow has
no hook at any of its points (as the catalogue and declared points assign points to flows) and, for a top-level
flow, no active observer either (:meth:`Runtime.idle`): a nested flow without hooks is folded into its parent,
whose run the observers see.

Outcomes: a flow that returns is ``success`` unless it noted otherwise; a ``Deny`` is
``short_circuit`` (and a fault if it is a :class:`~authhooks.errors.HookFailed`); any other ``AuthError`` is
``failure`` (a rejection, not a fault); anything else is a fault.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from authhooks.errors import (
    AuthError,
    ConfigurationError,
    Deny,
    HookError,
    HookFailed,
    KeySetUnavailableError,
    StoreError,
)
from authhooks.events import Outcome
from authhooks.flows.effects import Call, FlowCall, Note, RunHooks, StoreCall, SubFlow
from authhooks.hooks.background import BackgroundQueue
from authhooks.hooks.context import HookContext
from authhooks.hooks.dispatch import dispatch_async, dispatch_sync
from authhooks.hooks.observer import FlowRun, Observer
from authhooks.hooks.registry import Registry
from authhooks.records import RequestInfo
from authhooks.stores.base import Store

__all__ = ["Runtime", "fault_reason", "run_async", "run_sync", "shortcut"]

logger = logging.getLogger("authhooks.flows")

T = TypeVar("T")


@dataclass(slots=True)
class Runtime:
    """What the drivers need: the hooks, the observers, the background queue and the store (lazily)."""

    registry: Registry
    observers: tuple[Observer, ...]
    background: BackgroundQueue
    store_factory: Callable[[], Store]
    _store: Store | None = None
    _conditional: bool = False
    _busy_flows: frozenset[str] = frozenset()
    _busy_version: int = -1

    def __post_init__(self) -> None:
        self.set_observers(self.observers)

    def hooked(self, flow: str) -> bool:
        """True when any hook is registered at any point of ``flow``.

        Which points belong to a flow comes from each point's ``flow`` (the catalogue's rows and application
        points declared under the flow's name), never from a list kept by hand; recomputed when hooks change.
        """
        registry = self.registry
        if registry.version != self._busy_version:
            self._busy_flows = frozenset(h.point.flow for h in registry.all())
            self._busy_version = registry.version
        return flow in self._busy_flows

    def idle(self, flow: str) -> bool:
        """True when nothing would see a run of ``flow``: no hook at any of its points, no active observer."""
        return not self.hooked(flow) and not self.watching()

    def bare(self, call: FlowCall[Any]) -> bool:
        """True when ``call`` may run its bare variant: it has one, and no hook at any point of its flow or of the
        flows it nests, and no active observer (one check of the registry's version, then set lookups)."""
        if call.bare is None:
            return False
        if self.registry.version != self._busy_version:
            self.hooked(call.flow)  # refresh the flows that have hooks
        busy = self._busy_flows
        if busy and (call.flow in busy or any(nested in busy for nested in call.nests)):
            return False
        return not self.watching()

    def set_observers(self, observers: tuple[Observer, ...]) -> None:
        """Replace the observers (and note whether any of them can be inactive)."""
        self.observers = observers
        self._conditional = any(hasattr(type(o), "active") or hasattr(o, "active") for o in observers)

    def watching(self) -> tuple[Observer, ...]:
        """The observers that would watch a flow starting now (inactive ones left out)."""
        observers = self.observers
        if self._conditional:
            return tuple(o for o in observers if getattr(o, "active", True))
        return observers

    @property
    def store(self) -> Store:
        """The store, opened on first use."""
        store = self._store
        if store is None:
            store = self._store = self.store_factory()
        return store


def _start(rt: Runtime, flow: str, ctx: HookContext, parent: FlowRun | None) -> FlowRun | None:
    observers = rt.watching()
    if not observers:
        return None
    run = FlowRun(flow, ctx.request, parent, observers=observers)
    for observer in observers:
        try:
            observer.flow_started(run)
        except Exception:
            logger.exception("an observer failed at the start of a flow")
    return run


_FAULT_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (KeySetUnavailableError, "key_set_unavailable"),
    (StoreError, "store_unavailable"),
    (HookError, "hook_error"),  # before ConfigurationError, its base
    (ConfigurationError, "configuration_error"),
)
"""Faults by class, first match wins: the same words as telemetry's ``error.type``."""


def fault_reason(exc: BaseException) -> str:
    """The snake_case ``reason`` of a flow that ended in a fault (never a class name: reasons stay
    low-cardinality and in one style); ``internal_error`` for anything unforeseen."""
    for kind, reason in _FAULT_REASONS:
        if isinstance(exc, kind):
            return reason
    return "internal_error"


def _end(rt: Runtime, run: FlowRun, exc: BaseException | None) -> None:
    if exc is not None:
        if isinstance(exc, Deny):
            run.outcome, run.reason = Outcome.SHORT_CIRCUIT, exc.reason
            if isinstance(exc, HookFailed):
                run.fault = exc
        elif isinstance(exc, AuthError):
            run.outcome, run.reason = Outcome.FAILURE, exc.reason
        else:
            run.outcome, run.fault = Outcome.FAILURE, exc
            run.reason = run.reason or fault_reason(exc)
    elif run.outcome is Outcome.NONE and not run.state.get("noted"):
        run.outcome = Outcome.SUCCESS
    run.duration = time.perf_counter() - run.started
    for observer in reversed(run.observers):
        try:
            observer.flow_ended(run)
        except Exception:
            logger.exception("an observer failed at the end of a flow")


def _note(run: FlowRun | None, eff: Note) -> None:
    if run is None:
        return
    if eff.outcome is not None:
        run.outcome = eff.outcome
        run.state["noted"] = True
    if eff.reason is not None:
        run.reason = eff.reason
    if eff.subject is not None:
        run.subject = eff.subject
    if eff.details:
        run.details = {**run.details, **eff.details} if run.details else dict(eff.details)


def shortcut(rt: Runtime, call: FlowCall[T], nested: bool = False) -> T | None:
    """The flow's result without running it, when it has a shortcut that answers and nothing would see the run
    (see the module docstring); else ``None`` (then run it with :func:`run_sync` or :func:`run_async`).

    Checked before a driver is entered, so a shortcut costs no coroutine, no generator and no hook context.
    """
    if call.shortcut is None:
        return None
    if rt.registry.version != rt._busy_version:
        rt.hooked(call.flow)  # refresh the flows that have hooks
    if call.flow in rt._busy_flows or (not nested and rt.watching()):
        return None
    return call.quick()


def run_sync(
    rt: Runtime,
    call: FlowCall[T],
    ctx: HookContext,
    parent: FlowRun | None = None,
    request: RequestInfo | None = None,
) -> T:
    """Drive ``call`` to completion with blocking I/O; return its result or raise what it raised.

    ``ctx`` is the hook context; with ``request``, the run's context is ``ctx.with_request(request)``, made only
    when the flow is run with its hook points (a bare run has no use for it)."""
    if parent is None and rt.bare(call):
        gen, run = call.bare_gen(), None  # nothing would see the run: the flow's bare variant
    else:
        if request is not None:
            ctx = ctx.with_request(request)
        gen, run = call.gen, _start(rt, call.flow, ctx, parent)
    hooks_of = rt.registry.tables.get
    send: Any = None
    throw: BaseException | None = None
    failure: BaseException | None = None
    try:
        while True:
            try:
                eff = gen.send(send) if throw is None else gen.throw(throw)
            except StopIteration as stop:
                result: T = stop.value
                return result
            send, throw = None, None
            try:
                if type(eff) is RunHooks:
                    hooks = hooks_of(eff.point.name)
                    if hooks:
                        send = dispatch_sync(
                            eff.point, hooks, eff.values, ctx, run, run.observers if run else (), rt.background
                        )
                elif type(eff) is StoreCall:
                    send = getattr(rt.store.sync, eff.op)(*eff.args)
                elif type(eff) is Note:
                    if run is not None:
                        _note(run, eff)
                elif type(eff) is Call:
                    send = eff.sync(*eff.args)
                elif type(eff) is SubFlow:
                    send = shortcut(rt, eff.call, True)
                    if send is None:
                        send = run_sync(rt, eff.call, ctx, run)
                else:
                    raise TypeError(f"a flow yielded {eff!r}, which is not an effect")
            except BaseException as exc:
                throw = exc
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if run is not None:
            _end(rt, run, failure)


async def run_async(
    rt: Runtime,
    call: FlowCall[T],
    ctx: HookContext,
    parent: FlowRun | None = None,
    request: RequestInfo | None = None,
) -> T:
    """Drive ``call`` to completion with async I/O; return its result or raise what it raised.

    ``ctx`` is the hook context; with ``request``, the run's context is ``ctx.with_request(request)``, made only
    when the flow is run with its hook points (a bare run has no use for it)."""
    if parent is None and rt.bare(call):
        gen, run = call.bare_gen(), None  # nothing would see the run: the flow's bare variant
    else:
        if request is not None:
            ctx = ctx.with_request(request)
        gen, run = call.gen, _start(rt, call.flow, ctx, parent)
    hooks_of = rt.registry.tables.get
    send: Any = None
    throw: BaseException | None = None
    failure: BaseException | None = None
    try:
        while True:
            try:
                eff = gen.send(send) if throw is None else gen.throw(throw)
            except StopIteration as stop:
                result: T = stop.value
                return result
            send, throw = None, None
            try:
                if type(eff) is RunHooks:
                    hooks = hooks_of(eff.point.name)
                    if hooks:
                        send = await dispatch_async(
                            eff.point, hooks, eff.values, ctx, run, run.observers if run else (), rt.background
                        )
                elif type(eff) is StoreCall:
                    send = await getattr(rt.store, eff.op)(*eff.args)
                elif type(eff) is Note:
                    if run is not None:
                        _note(run, eff)
                elif type(eff) is Call:
                    send = await eff.async_(*eff.args)
                elif type(eff) is SubFlow:
                    send = shortcut(rt, eff.call, True)
                    if send is None:
                        send = await run_async(rt, eff.call, ctx, run)
                else:
                    raise TypeError(f"a flow yielded {eff!r}, which is not an effect")
            except BaseException as exc:
                throw = exc
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if run is not None:
            _end(rt, run, failure)
