"""The hook methods of :class:`~authhooks.AuthHooks`: declaring and resolving points, registering and removing
hooks (:mod:`authhooks.hooks`), observers, firing an application point as a flow of its own, and the declarative
handlers (:mod:`authhooks.handlers`) that register hooks from a file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from authhooks._auth_engine import Engine
from authhooks.errors import ConfigurationError, HookError
from authhooks.flows.effects import FlowCall, FlowGen, RunHooks
from authhooks.handlers.loading import HandlersSource
from authhooks.handlers.registration import HandlerSet
from authhooks.hooks.observer import Observer
from authhooks.hooks.points import HookPoint, PointKind, PointSpec, declare_point, resolve_point
from authhooks.hooks.registry import HookImpl, OnError, _is_async
from authhooks.records import RequestInfo

__all__ = ["FireResult", "HookMethods"]

logger = logging.getLogger("authhooks")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class FireResult:
    """What :meth:`AuthHooks.fire` returns.

    Attributes:
        values: the inputs after decision hooks changed them.
        result: the provide chain's result, or ``None``.
    """

    values: Mapping[str, Any]
    result: Any = None


class HookMethods(Engine):
    """Points, hooks, observers, :meth:`fire` and the declarative handlers of ``AuthHooks``."""

    # -- declarative handlers ---------------------------------------------------------------------------------

    @property
    def handlers(self) -> HandlerSet:
        """The declarative handlers (:class:`~authhooks.handlers.HandlerSet`): ``list()``, ``enable(name)``,
        ``disable(name)``; empty until a file is loaded."""
        if self._handlers is None:
            from authhooks.handlers import empty

            self._handlers = empty(self)
        return self._handlers

    def load_handlers(self, source: HandlersSource, *, environ: Mapping[str, str] | None = None) -> HandlerSet:
        """Load a handlers file (or mapping) and register its handlers in place of the current ones, atomically.

        Args:
            source: a TOML file path, or the parsed mapping ``{"handler": [...]}``.
            environ: where ``secret_env``/``password_env`` variables are read (default ``os.environ``).

        Raises:
            ConfigurationError: naming the file, the line and the field; the current handlers stay.
        """
        from authhooks.handlers import build, swap

        new = build(self, source, self._handlers, environ)
        swap(self, self._handlers, new)
        self._handlers = new
        return new

    def reload_handlers(self) -> bool:
        """Read the handlers file again and swap the set atomically. A file that no longer loads keeps the current
        set and logs why (one line naming file, line and field); returns whether the new set is in place."""
        current = self._handlers
        source = current.source if current is not None else None
        if source is None:
            source = self.settings.handlers_file
        if source is None:
            logger.warning("authhooks: reload_handlers: no handlers file to reload")
            return False
        try:
            self.load_handlers(source)
        except ConfigurationError as exc:
            logger.error("authhooks: handlers not reloaded, the current set stays: %s", exc)
            return False
        return True

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
        if self._sync_only is not None and (_is_async(fn) or (when is not None and _is_async(when))):
            shown = name or getattr(fn, "__qualname__", repr(fn))
            raise HookError(
                f"hook {shown!r} at {self.point(point).name} is async, and this AuthHooks serves {self._sync_only}, "
                "which runs flows with the sync driver: register a sync function"
            )
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

    def require_sync(self, owner: str) -> None:
        """Bind this engine to the sync driver (a WSGI stack, named ``owner``): refuse now any async hook or
        ``when=`` condition already registered, naming it, and refuse every later registration of one.

        Raises:
            ConfigurationError: an async hook or condition is registered (the first one is named).
        """
        for impl in self._registry.all():
            if impl.is_async or impl.condition_is_async:
                raise ConfigurationError(
                    f"{owner} runs flows with the sync driver, but hook {impl.name!r} at {impl.point.name} is async: "
                    "register a sync function (or serve the app with ASGI)"
                )
        self._sync_only = owner

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

    # -- firing a point as a flow ------------------------------------------------------------------------------

    def _fire(self, spec: PointSpec, inputs: dict[str, Any]) -> FlowCall[FireResult]:
        point = self.point(spec)
        unknown = set(inputs) - point.inputs
        if unknown:
            raise HookError(f"{point.name} has no input(s) {sorted(unknown)}; it takes {sorted(point.inputs)}")
        values = {name: inputs.get(name) for name in point.inputs}

        def fire(point: HookPoint, values: dict[str, Any]) -> FlowGen[FireResult]:
            result = yield RunHooks(point, values)
            return FireResult(values, result)

        return FlowCall(point.flow, fire, (point, values))

    async def fire(self, point: PointSpec, *, request: RequestInfo | None = None, **inputs: Any) -> FireResult:
        """Run the hooks of ``point`` (typically an application point) as a flow of its own.

        Returns:
            the inputs as decision hooks left them and the provide result.

        Raises:
            Deny: a decision hook denied.
            HookError: an input the point does not declare.
        """
        return await self.run_flow(self._fire(point, inputs), request)
