"""``AuthHooks``: the public object that holds the settings, the hooks, the store and the observers, and runs
the flows (as a plain Python API, async with ``*_sync`` twins, and for the middleware)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from authhooks.config import Settings
from authhooks.errors import HookError
from authhooks.events import RequestInfo
from authhooks.flows.driver import Runtime, run_async, run_sync
from authhooks.flows.effects import RunHooks
from authhooks.flows.host import FlowHost
from authhooks.flows.identity import IdentityFlows
from authhooks.flows.token_api import TokenFlows
from authhooks.hooks.background import BackgroundQueue, BackgroundStats
from authhooks.hooks.context import HookContext
from authhooks.hooks.deadlines import run_in_thread, run_in_thread_sync
from authhooks.hooks.observer import Observer
from authhooks.hooks.points import CATALOGUE, HookPoint, PointKind, PointSpec, declare_point, resolve_point
from authhooks.hooks.registry import HookImpl, OnError, Registry
from authhooks.hooks.runner import HookRunner, HookStats
from authhooks.stores.base import Store

__all__ = ["AuthHooks", "FireResult"]

logger = logging.getLogger("authhooks")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FireResult:
    """What :meth:`AuthHooks.fire` returns.

    Attributes:
        values: the inputs after decision hooks changed them.
        result: the provide chain's result, or ``None``.
    """

    values: Mapping[str, Any]
    result: Any = None


class AuthHooks(TokenFlows, IdentityFlows, FlowHost):
    """The hook engine and the flows, in one object.

    Args:
        settings: the settings; by default read from ``AUTHHOOKS_*`` (``Settings.from_env``) with
            ``overrides`` winning.
        store: a state store; by default built lazily from ``settings.store_url``.
        observers: extra observers of flows and hook runs. When ``settings.telemetry`` is true (the default) a
            :class:`~authhooks.telemetry.TelemetryObserver` comes first (OpenTelemetry API only: no-op until an
            SDK is installed); with ``audit_log_file`` an :class:`~authhooks.exporters.audit.AuditObserver` last.
        **overrides: any :class:`~authhooks.config.Settings` field, e.g. ``propagate_hook_errors=True``.

    Hooks are registered with :meth:`add_hook` or the :meth:`hook` decorator at the points of
    :data:`~authhooks.hooks.points.CATALOGUE` (or their seed aliases, or points declared with
    :meth:`declare_point`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        observers: tuple[Observer, ...] | list[Observer] = (),
        **overrides: Any,
    ) -> None:
        if settings is None:
            settings = Settings.from_env(**overrides)
        elif overrides:
            settings = settings.replace(**overrides)
        self.settings = settings
        self._points: dict[str, HookPoint] = dict(CATALOGUE)
        self._runner = HookRunner(settings.hook_workers)
        self._registry = Registry(
            propagate_hook_errors=settings.propagate_hook_errors,
            default_timeout=settings.hook_timeout_seconds,
            runner=self._runner,
        )
        self._audit: Any = None
        self.telemetry_handle: Any = None
        """The SDK handle made by :meth:`setup_telemetry` (flushed at shutdown), else ``None``."""
        built: list[Observer] = []
        if settings.telemetry:
            from authhooks.telemetry.tracing import TelemetryObserver

            built.append(TelemetryObserver(settings, hook_durations=settings.hook_metrics))
        built.extend(observers)
        if settings.audit_log_file is not None:
            from authhooks.exporters.audit import AuditObserver

            self._audit = AuditObserver(settings.audit_log_file, settings)
            built.append(self._audit)
        self._runtime = Runtime(
            registry=self._registry,
            observers=tuple(built),
            background=BackgroundQueue(settings.background_queue_size),
            store_factory=self._open_store,
            _store=store,
        )
        self._context = HookContext(self, None)

    def _open_store(self) -> Store:
        from authhooks.stores.factory import open_store

        return open_store(settings=self.settings)

    # -- state ------------------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The state store (opened on first use)."""
        store: Store = self._runtime.store
        return store

    @property
    def background_stats(self) -> BackgroundStats:
        """Counters of the background-hook queue (queued, completed, failed, dropped, pending)."""
        return self._runtime.background.stats

    @property
    def hook_stats(self) -> HookStats:
        """Counters of hook runs cut at their timeout: ``timeouts``, ``abandoned`` (the hook was still running in
        its thread) and ``abandoned_running`` (abandoned runs whose hook has not returned yet)."""
        return self._runner.stats

    # -- points and hooks -------------------------------------------------------------------------------------

    def declare_point(
        self,
        name: str,
        *,
        kind: PointKind | str = PointKind.NOTIFICATION,
        inputs: tuple[str, ...] | frozenset[str] = (),
        mutable: tuple[str, ...] | frozenset[str] = (),
        doc: str = "",
    ) -> HookPoint:
        """Declare an application hook point ``"<flow>.<stage>"`` and return it (fire it with :meth:`fire`).

        Raises:
            HookError: a malformed or already-declared name.
        """
        if name in self._points:
            raise HookError(f"hook point {name!r} is already declared")
        point = declare_point(name, kind=kind, inputs=inputs, mutable=mutable, doc=doc)
        self._points[name] = point
        return point

    def point(self, spec: PointSpec) -> HookPoint:
        """The declared point ``spec`` names (a name, an alias, a ``(Flow, Stage)`` pair)."""
        return resolve_point(spec, self._points)

    @property
    def points(self) -> Mapping[str, HookPoint]:
        """Every declared point, by name."""
        return dict(self._points)

    def add_hook(
        self,
        point: PointSpec,
        fn: Callable[..., Any],
        *,
        order: int = 0,
        tryfirst: bool = False,
        trylast: bool = False,
        after: str | tuple[str, ...] | list[str] = (),
        before: str | tuple[str, ...] | list[str] = (),
        timeout: float | None = None,
        on_error: OnError | None = None,
        when: Callable[..., Any] | None = None,
        enforce: bool = True,
        background: bool = False,
        inline: bool = False,
        name: str | None = None,
    ) -> HookImpl:
        """Register ``fn`` at ``point``.

        Args:
            point: ``"<flow>.<stage>"``, a seed alias (``"pre_auth"``), or ``(Flow.X, Stage.Y)``.
            fn: a sync or async callable. It receives only the keyword arguments it names: the point's inputs
                and ``event``, ``request``, ``store``, ``auth``, ``point``. Naming anything else is an error.
            order: lower runs first (then registration order).
            tryfirst / trylast: run before / after every hook without the flag.
            after / before: names of hooks at the same point this one must follow / precede.
            timeout: seconds; a timeout counts as an error. Without one, ``hook_timeout_seconds`` applies (5 s by
                default): every hook run is bounded. A sync hook runs on authhooks' own bounded threads
                (``hook_workers``), never on the event loop, and its caller (the loop or the ``*_sync`` caller's
                thread) waits at most the timeout; a hook still running then is abandoned to its thread and
                counted in :attr:`hook_stats`. An async hook is cancelled at its timeout.
            on_error: ``deny`` (fail closed, the default at decision points), ``ignore`` (log and continue, the
                default at notification points) or ``raise``; ``propagate_hook_errors`` forces ``raise``.
            when: a condition taking named parameters like a hook; the hook runs only when it returns true.
            enforce: ``False`` runs the hook in shadow mode: its denial is recorded, not enforced.
            background: run through the bounded background queue (notification points only).
            inline: declare a sync hook non-blocking (no I/O, no lock, microseconds): it is called in the caller's
                thread — on the event loop under the async driver — without the thread hop (tens of µs) and
                without a timeout, which cannot be enforced there. Refused with ``timeout=`` or an async hook.
            name: unique at the point; defaults to the function's qualified name.

        Returns:
            The registered :class:`~authhooks.hooks.registry.HookImpl`.

        Raises:
            HookError: unknown point or parameter, conflicting options, an ordering cycle.
        """
        return self._registry.add(
            self.point(point),
            fn,
            order=order,
            tryfirst=tryfirst,
            trylast=trylast,
            after=after,
            before=before,
            timeout=timeout,
            on_error=on_error,
            when=when,
            enforce=enforce,
            background=background,
            inline=inline,
            name=name,
        )

    def hook(self, point: PointSpec, **options: Any) -> Callable[[F], F]:
        """Decorator form of :meth:`add_hook`: ``@auth.hook("login.pre", order=-10)``.

        Every run is bounded: by ``timeout=`` or else ``hook_timeout_seconds`` (5 s). A sync hook runs on
        authhooks' bounded pool of ``hook_workers`` threads, never on the event loop (a thread hop of tens of µs);
        ``@auth.hook("login.pre", inline=True)`` declares it non-blocking and runs it in the caller's thread, with
        no hop and no timeout. See :meth:`add_hook`.
        """

        def register(fn: F) -> F:
            self.add_hook(point, fn, **options)
            return fn

        return register

    def remove_hook(
        self,
        point: PointSpec | Callable[..., Any] | None = None,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
    ) -> int:
        """Remove the hooks matching ``point``, ``fn`` and ``name`` (each optional); return how many.

        ``auth.remove_hook(fn)`` removes ``fn`` from every point.
        """
        spec: PointSpec | None
        if point is not None and not isinstance(point, (str, tuple, HookPoint)):
            spec, fn = None, point
        else:
            spec = point
        pname = self.point(spec).name if spec is not None else None
        return self._registry.remove(pname, fn, name)

    def hooks(self, point: PointSpec) -> tuple[HookImpl, ...]:
        """The hooks of ``point`` in call order."""
        return self._registry.get(self.point(point).name)

    def has_async_hooks(self) -> bool:
        """True when any hook or condition is async (such a stack cannot be served by the WSGI driver)."""
        return any(h.is_async or h.condition_is_async for h in self._registry.all())

    # -- observers --------------------------------------------------------------------------------------------

    @property
    def observers(self) -> tuple[Observer, ...]:
        """The observers of flows and hook runs."""
        return self._runtime.observers

    def add_observer(self, observer: Observer) -> None:
        """Add an observer (telemetry, audit, a test recorder)."""
        self._runtime.set_observers((*self._runtime.observers, observer))

    def remove_observer(self, observer: Observer) -> None:
        """Remove an observer added before."""
        self._runtime.set_observers(tuple(o for o in self._runtime.observers if o is not observer))

    # -- running flows ----------------------------------------------------------------------------------------

    def context(self, request: RequestInfo | None = None) -> HookContext:
        """The hook context for a flow run about ``request``."""
        return self._context.with_request(request)

    def run_flow_sync(self, flow: str, gen: Generator[Any, Any, T], request: RequestInfo | None = None) -> T:
        """Drive a sans-IO flow generator with the sync driver."""
        return run_sync(self._runtime, flow, gen, self.context(request))

    async def run_flow(self, flow: str, gen: Generator[Any, Any, T], request: RequestInfo | None = None) -> T:
        """Drive a sans-IO flow generator with the async driver."""
        return await run_async(self._runtime, flow, gen, self.context(request))

    def _fire_gen(self, point: HookPoint, values: dict[str, Any]) -> Generator[Any, Any, FireResult]:
        result = yield RunHooks(point, values)
        return FireResult(values, result)

    def _fire_values(self, spec: PointSpec, inputs: dict[str, Any]) -> tuple[HookPoint, dict[str, Any]]:
        point = self.point(spec)
        unknown = set(inputs) - point.inputs
        if unknown:
            raise HookError(f"{point.name} has no input(s) {sorted(unknown)}; it takes {sorted(point.inputs)}")
        return point, {name: inputs.get(name) for name in point.inputs}

    async def fire(self, point: PointSpec, *, request: RequestInfo | None = None, **inputs: Any) -> FireResult:
        """Run the hooks of ``point`` (typically an application point) as a flow of its own.

        Returns:
            the inputs as decision hooks left them and the provide result.

        Raises:
            Deny: a decision hook denied.
            HookError: an input the point does not declare.
        """
        p, values = self._fire_values(point, inputs)
        return await self.run_flow(p.flow, self._fire_gen(p, values), request)

    def fire_sync(self, point: PointSpec, *, request: RequestInfo | None = None, **inputs: Any) -> FireResult:
        """The sync twin of :meth:`fire`."""
        p, values = self._fire_values(point, inputs)
        return self.run_flow_sync(p.flow, self._fire_gen(p, values), request)

    def setup_telemetry(self, *, exporter: Any = None) -> Any:
        """Build an OpenTelemetry SDK from the ``OTEL_*`` variables (only when none is installed yet) and keep
        its handle, so that :meth:`aclose`/:meth:`close` and the middleware's shutdown flush it.

        Args:
            exporter: ``"compact"`` for the one-line-per-flow console exporter, a ``SpanExporter``, or ``None``
                for what ``OTEL_TRACES_EXPORTER`` says.

        Returns:
            The :class:`~authhooks.telemetry.TelemetryHandle`.
        """
        from authhooks.telemetry.setup import setup

        self.telemetry_handle = setup(self.settings, exporter=exporter)
        return self.telemetry_handle

    # -- shutdown ---------------------------------------------------------------------------------------------

    # The budget is shared in order; the hook work may use at most this part of it, so that a hung hook still
    # leaves time to flush the telemetry that records it.
    _HOOKS_SHARE = 0.5

    async def aclose(self, timeout: float | None = None) -> None:
        """Shut down within ``timeout`` seconds (default ``shutdown_timeout_seconds``, 5 s), whatever is down.

        In order: drain the background queue and wait for running hook threads (together at most half the
        budget), close the audit log, close the store, then flush and shut down the telemetry made by
        :meth:`setup_telemetry` with what is left (once: later calls do not flush again). What does not finish
        in its share is abandoned and logged: background tasks are cancelled, hook threads (daemon threads) are
        left to end on their own, an unreachable collector's data is lost.
        """
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        await self._runtime.background.aclose(max(0.0, hooks_deadline - time.monotonic()))
        if not await run_in_thread(
            lambda: self._runner.close(max(0.0, hooks_deadline - time.monotonic())),
            max(0.0, hooks_deadline - time.monotonic()) + 0.05,
            "authhooks-hooks-close",
        ):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        remote = self._token_service.remote if self._token_service is not None else None
        if remote is not None:  # a background key-set fetch in flight is cancelled
            await remote.aclose(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None:
            try:
                await asyncio.wait_for(store.aclose(), max(0.01, deadline - time.monotonic()))
            except (TimeoutError, asyncio.TimeoutError):
                logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            await self.telemetry_handle.ashutdown(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float | None = None) -> None:
        """The sync twin of :meth:`aclose`, within the same budget (the worker thread is drained; async background
        tasks need ``aclose``)."""
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        self._runtime.background.close(max(0.0, hooks_deadline - time.monotonic()))
        if not self._runner.close(max(0.0, hooks_deadline - time.monotonic())):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        remote = self._token_service.remote if self._token_service is not None else None
        if remote is not None:
            remote.close(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None and not run_in_thread_sync(
            store.sync.close, max(0.01, deadline - time.monotonic()), "authhooks-store-close"
        ):
            logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            self.telemetry_handle.shutdown(max(0.0, deadline - time.monotonic()))

    async def __aenter__(self) -> AuthHooks:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> AuthHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
