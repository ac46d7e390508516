"""Hook registration: signature binding, policies and ordering, all decided once, at registration.

Each point keeps a precomputed tuple of :class:`HookImpl` in call order, so dispatch is a plain loop and a point
without hooks costs one dict lookup.

Ordering (pluggy's try-first/try-last plus named dependencies):

1. ``tryfirst`` hooks, then the rest, then ``trylast`` hooks;
2. within each group, lower ``order`` first, then registration order;
3. ``after=``/``before=`` name other hooks at the same point; the order above is kept wherever these allow
   (a stable topological sort). Names that are not registered are ignored, so a hook may declare a dependency
   on an optional plugin. A cycle is refused at registration with :class:`~authhooks.errors.HookError`.
"""

from __future__ import annotations

import heapq
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from authhooks.errors import HookError
from authhooks.hooks.points import CONTEXT_PARAMETERS, HookPoint, PointKind
from authhooks.hooks.runner import HookRunner

__all__ = ["HookImpl", "OnError", "Registry"]

OnError = Literal["deny", "ignore", "raise"]
_POLICIES = ("deny", "ignore", "raise")

Caller = Callable[[dict[str, Any], Any], Any]
"""``caller(values, ctx)``: calls the hook with exactly the keyword arguments it names."""


@dataclass(frozen=True, slots=True, eq=False)
class HookImpl:
    """One registered hook, with everything dispatch needs precomputed.

    Attributes:
        fn: the user's function.
        name: unique at its point; used by ``after=``/``before=``, telemetry and ``remove_hook``.
        point: the hook point.
        on_error: the effective policy (``deny``, ``ignore`` or ``raise``).
        call: ``call(values, ctx)`` invokes ``fn`` with the parameters it names.
        condition: ``condition(values, ctx) -> bool`` built from ``when=``, or ``None``.
        is_async: ``fn`` is a coroutine function (only the async driver can run it).
        inline: a sync hook declared non-blocking: called in the caller's thread (on the event loop under the
            async driver), with no timeout.
        runner: the :class:`~authhooks.hooks.runner.HookRunner` that runs and bounds it.
        fast: the sync driver's plain path: a sync hook called in the caller's thread (``inline``, or no
            timeout), without condition, background or shadow mode.
        fast_async: the async driver's plain path: an ``inline`` sync hook or an async hook without timeout,
            without condition, background or shadow mode.
    """

    fn: Callable[..., Any]
    name: str
    point: HookPoint
    order: int
    tryfirst: bool
    trylast: bool
    after: tuple[str, ...]
    before: tuple[str, ...]
    timeout: float | None
    on_error: OnError
    enforce: bool
    background: bool
    seq: int
    call: Caller
    condition: Caller | None
    is_async: bool
    condition_is_async: bool
    inline: bool = False
    runner: HookRunner | None = None
    fast: bool = field(init=False)
    fast_async: bool = field(init=False)

    def __post_init__(self) -> None:
        plain = self.condition is None and not self.background and self.enforce
        fast = plain and not self.is_async and self.timeout is None
        fast_async = plain and (self.inline or (self.is_async and self.timeout is None))
        object.__setattr__(self, "fast", fast)
        object.__setattr__(self, "fast_async", fast_async)

    def __repr__(self) -> str:
        return f"<HookImpl {self.name!r} at {self.point.name}>"


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with an async __call__
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


def _build_caller(fn: Callable[..., Any], point: HookPoint, what: str, label: str) -> Caller:
    """Compile ``fn``'s parameter list into a caller that passes exactly the names it takes.

    A parameter the point does not offer is a registration error; ``**kwargs`` receives every input. The caller
    is compiled under the file name ``<hook LABEL at POINT>``, so a traceback through it names the hook.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise HookError(f"{what}: cannot read the signature of {fn!r}") from exc
    allowed = point.parameters
    names: list[str] = []
    takes_all = False
    for param in sig.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            takes_all = True
        elif param.kind is param.VAR_POSITIONAL:
            continue
        elif param.kind is param.POSITIONAL_ONLY:
            if param.default is param.empty:
                raise HookError(f"{what}: positional-only parameter {param.name!r} cannot be passed by name")
        elif param.name not in allowed:
            offered = ", ".join(sorted(allowed))
            raise HookError(f"{what}: unknown parameter {param.name!r} at {point.name}; it offers: {offered}")
        else:
            names.append(param.name)
    args = []
    for n in names:
        if n == "event":
            args.append("event=_event(_point, v, c)")
        elif n in CONTEXT_PARAMETERS:
            args.append(f"{n}=c.{n}" if n != "point" else "point=_point.name")
        else:
            args.append(f"{n}=v.get({n!r})")
    if takes_all:
        taken = set(names)
        extra = sorted(point.inputs - taken)
        args.append("**{" + ", ".join(f"{n!r}: v.get({n!r})" for n in extra) + "}")
    source = f"lambda v, c: _fn({', '.join(args)})"
    from authhooks.hooks.context import make_event

    namespace = {"_fn": fn, "_event": make_event, "_point": point}
    code = compile(source, f"<hook {label} at {point.name}>", "eval")
    caller: Caller = eval(code, namespace)  # noqa: S307 - source built from validated identifiers only
    return caller


def _as_names(value: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    names = tuple(value)
    if not all(isinstance(n, str) for n in names):
        raise HookError(f"after=/before= take hook names, got {value!r}")
    return names


class Registry:
    """The hooks of every point, each point's tuple kept sorted and ready for dispatch.

    Args:
        propagate_hook_errors: make every hook's policy ``raise`` (Evrmore's option).
        default_timeout: a timeout applied to hooks registered without one (``inline`` hooks excepted).
        runner: runs and bounds the hooks registered here (a new one of 8 threads by default).
    """

    def __init__(
        self,
        *,
        propagate_hook_errors: bool = False,
        default_timeout: float | None = None,
        runner: HookRunner | None = None,
    ) -> None:
        self._propagate = propagate_hook_errors
        self._default_timeout = default_timeout
        self.runner = runner if runner is not None else HookRunner()
        self._lock = threading.RLock()
        self._hooks: dict[str, list[HookImpl]] = {}
        self._tables: dict[str, tuple[HookImpl, ...]] = {}
        self.tables: Mapping[str, tuple[HookImpl, ...]] = self._tables
        """Every point's hooks in call order, live (points without hooks are absent); read-only by contract: what
        a driver looks a point up in, one ``dict`` lookup."""
        self._seq = 0
        self.version = 0
        """Incremented by every registration and removal, so callers can memoize what they derive."""

    def get(self, point: str) -> tuple[HookImpl, ...]:
        """The hooks of ``point`` in call order (an empty tuple when none)."""
        return self._tables.get(point, ())

    def all(self) -> list[HookImpl]:
        """Every registered hook, point by point, in call order."""
        return [h for table in self._tables.values() for h in table]

    def add(
        self,
        point: HookPoint,
        fn: Callable[..., Any],
        *,
        order: int = 0,
        tryfirst: bool = False,
        trylast: bool = False,
        after: str | Iterable[str] = (),
        before: str | Iterable[str] = (),
        timeout: float | None = None,
        on_error: OnError | None = None,
        when: Callable[..., Any] | None = None,
        enforce: bool = True,
        background: bool = False,
        inline: bool = False,
        name: str | None = None,
    ) -> HookImpl:
        """Validate and register ``fn`` at ``point``; see :meth:`authhooks.AuthHooks.add_hook`."""
        if not callable(fn):
            raise HookError(f"a hook must be callable, got {fn!r}")
        label = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        what = f"hook {label!r}"
        if tryfirst and trylast:
            raise HookError(f"{what}: tryfirst and trylast exclude each other")
        if isinstance(order, bool) or not isinstance(order, int):
            raise HookError(f"{what}: order must be an integer")
        is_async = _is_async(fn)
        if inline:
            if is_async:
                raise HookError(f"{what}: inline= is for sync hooks; an async hook always runs on the event loop")
            if timeout is not None:
                raise HookError(f"{what}: an inline hook runs in the caller's thread and cannot be cut at a timeout")
        elif timeout is None:
            timeout = self._default_timeout
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise HookError(f"{what}: timeout must be a positive number of seconds")
        if on_error is not None and on_error not in _POLICIES:
            raise HookError(f"{what}: on_error must be one of {', '.join(_POLICIES)}")
        if background and point.kind is not PointKind.NOTIFICATION:
            raise HookError(f"{what}: only notification points (post, failed) can run hooks in the background")
        if when is not None and not callable(when):
            raise HookError(f"{what}: when= takes a callable condition")
        policy: OnError
        if self._propagate:
            policy = "raise"
        elif on_error is not None:
            policy = on_error
        else:
            policy = "ignore" if point.kind is PointKind.NOTIFICATION else "deny"
        call = _build_caller(fn, point, what, label)
        condition = _build_caller(when, point, f"{what} condition", f"{label} condition") if when is not None else None
        with self._lock:
            existing = self._hooks.get(point.name, [])
            taken = {h.name for h in existing}
            if name is not None and name in taken:
                raise HookError(f"{what}: a hook of that name is already registered at {point.name}")
            unique, n = label, 2
            while unique in taken:
                unique, n = f"{label}#{n}", n + 1
            self._seq += 1
            impl = HookImpl(
                fn=fn,
                name=unique,
                point=point,
                order=order,
                tryfirst=tryfirst,
                trylast=trylast,
                after=_as_names(after),
                before=_as_names(before),
                timeout=timeout,
                on_error=policy,
                enforce=enforce,
                background=background,
                seq=self._seq,
                call=call,
                condition=condition,
                is_async=is_async,
                condition_is_async=when is not None and _is_async(when),
                inline=bool(inline),
                runner=self.runner,
            )
            table = _ordered([*existing, impl], point.name)
            self._hooks[point.name] = [*existing, impl]
            self._tables[point.name] = table
            self.version += 1
        return impl

    def remove(self, point: str | None = None, fn: Callable[..., Any] | None = None, name: str | None = None) -> int:
        """Remove the hooks matching every given criterion; return how many were removed."""
        removed = 0
        with self._lock:
            for pname in list(self._hooks):
                if point is not None and pname != point:
                    continue
                keep = [
                    h
                    for h in self._hooks[pname]
                    if not ((fn is None or h.fn is fn or h.fn == fn) and (name is None or h.name == name))
                ]
                removed += len(self._hooks[pname]) - len(keep)
                if keep:
                    self._hooks[pname] = keep
                    self._tables[pname] = _ordered(keep, pname)
                else:
                    del self._hooks[pname]
                    self._tables.pop(pname, None)
            self.version += 1
        return removed


def _ordered(hooks: list[HookImpl], point: str) -> tuple[HookImpl, ...]:
    """Sort by (group, order, registration), then honour after/before with a stable topological sort."""
    base = sorted(hooks, key=lambda h: (0 if h.tryfirst else 2 if h.trylast else 1, h.order, h.seq))
    rank = {h.name: i for i, h in enumerate(base)}
    preds: dict[str, set[str]] = {h.name: set() for h in base}
    for h in base:
        for other in h.after:
            if other in rank and other != h.name:
                preds[h.name].add(other)
        for other in h.before:
            if other in rank and other != h.name:
                preds[other].add(h.name)
    if not any(preds.values()):
        return tuple(base)
    by_name = {h.name: h for h in base}
    succs: dict[str, list[str]] = {n: [] for n in preds}
    for n, ps in preds.items():
        for p in ps:
            succs[p].append(n)
    waiting = {n: len(ps) for n, ps in preds.items()}
    ready = [(rank[n], n) for n, c in waiting.items() if c == 0]
    heapq.heapify(ready)
    out: list[HookImpl] = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(by_name[n])
        for s in succs[n]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (rank[s], s))
    if len(out) != len(base):
        cycle = sorted(n for n, c in waiting.items() if c > 0)
        raise HookError(f"hook ordering cycle at {point}: {', '.join(cycle)}")
    return tuple(out)
