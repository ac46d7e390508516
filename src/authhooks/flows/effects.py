"""The effects a sans-IO flow yields, and :class:`FlowCall`, a flow ready to run.

A flow is a generator: ``result = yield Effect`` for every step that needs the world (hooks, the store, the
network, a nested flow). The same generator is driven by :func:`~authhooks.flows.driver.run_sync` (WSGI, the
``auth.sync`` API) and :func:`~authhooks.flows.driver.run_async` (ASGI, the async API). Exceptions raised while
performing an effect (a hook's ``Deny``, a store fault) are thrown into the generator at the ``yield``, so a
flow can catch them, fire its ``failed`` hooks and re-raise.

A flow always yields its hook points and notes: whether anything needs to run (hooks at a point, an observer for
a note, anything at all in a whole flow) is decided by the driver alone, from the registry and the catalogue.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, Union, overload

from authhooks.events import Flow, Outcome
from authhooks.hooks.points import HookPoint

__all__ = ["Call", "Effect", "FlowCall", "FlowGen", "Note", "RunHooks", "StoreCall", "SubFlow", "flow"]

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(slots=True)
class RunHooks:
    """Run the hooks of ``point`` with ``values`` (updated in place by modifying hooks).

    Sends back the provide result (or ``None``); a denial is thrown into the flow.
    """

    point: HookPoint
    values: dict[str, Any]


@dataclass(slots=True)
class StoreCall:
    """Call ``store.<op>(*args)`` (async) or ``store.sync.<op>(*args)``; sends back its return value."""

    op: str
    args: tuple[Any, ...]


@dataclass(slots=True)
class Call:
    """Any other I/O (fetching a key set, a webhook): ``sync(*args)`` or ``await async_(*args)``."""

    sync: Callable[..., Any]
    async_: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()


@dataclass(slots=True)
class SubFlow:
    """Run a nested flow (its own span, its own hooks) and send back its result."""

    call: FlowCall[Any]


@dataclass(slots=True)
class Note:
    """Tell observers how the flow is going: its outcome, reason or subject (no I/O; sends back ``None``).

    ``details`` are low-cardinality facts of the run (``{"required_scopes": ("admin",)}`` for ``authorize``),
    merged into ``run.details``; telemetry records the ones ``telemetry/names.py`` declares.
    """

    outcome: Outcome | None = None
    reason: str | None = None
    subject: str | None = None
    details: Mapping[str, Any] | None = None


Effect = Union[RunHooks, StoreCall, Call, SubFlow, Note]  # noqa: UP007 - a runtime alias under Python 3.10
FlowGen = Generator[Effect, Any, T]
"""A sans-IO flow returning ``T``."""


class FlowCall(Generic[T]):
    """A flow ready to run: which :class:`~authhooks.events.Flow` it is (or, for an application point fired with
    ``auth.fire``, the application's flow name), its generator function and the arguments to call it with.

    The generator is made only when a driver runs the call: a call answered by its flow's shortcut never makes
    one. Build calls with the functions :func:`flow` declares, not by hand.

    Attributes:
        flow: the flow's name (a plain ``str``, ``Flow.X.value``: it is looked up on every run).
        shortcut: the flow's shortcut (see :func:`flow`), or ``None``.
        bare: the flow's bare variant (see :func:`flow`), or ``None``.
        nests: the flows this one may run nested (their hooks count against running it bare).
    """

    __slots__ = ("_args", "_fn", "_gen", "_kwargs", "bare", "flow", "nests", "shortcut")

    def __init__(
        self,
        flow: str,
        fn: Callable[..., FlowGen[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None = None,
        shortcut: Callable[..., T | None] | None = None,
        bare: Callable[..., FlowGen[T]] | None = None,
        nests: tuple[str, ...] = (),
    ) -> None:
        self.flow = flow
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.shortcut, self.bare, self.nests = shortcut, bare, nests
        self._gen: FlowGen[T] | None = None

    @property
    def gen(self) -> FlowGen[T]:
        """The flow's generator (made on first use)."""
        gen = self._gen
        if gen is None:
            gen = self._gen = self._fn(*self._args, **self._kwargs) if self._kwargs else self._fn(*self._args)
        return gen

    def bare_gen(self) -> FlowGen[T]:
        """The bare variant's generator for these arguments (the caller checked :attr:`bare` is set)."""
        assert self.bare is not None
        gen = self._gen = self.bare(*self._args, **self._kwargs) if self._kwargs else self.bare(*self._args)
        return gen

    def quick(self) -> T | None:
        """The flow's shortcut answer for these arguments (``None``: no shortcut, or it cannot answer)."""
        answer = self.shortcut
        if answer is None:
            return None
        return answer(*self._args, **self._kwargs) if self._kwargs else answer(*self._args)

    def __repr__(self) -> str:
        return f"FlowCall({self.flow})"


class _Declare(Protocol):
    def __call__(self, fn: Callable[P, FlowGen[T]], /) -> Callable[P, FlowCall[T]]: ...


@overload
def flow(name: Flow) -> _Declare: ...


@overload
def flow(
    name: Flow,
    *,
    shortcut: Callable[P, T | None],
    bare: Callable[P, FlowGen[T]] | None = None,
    nests: tuple[Flow, ...] = (),
) -> Callable[[Callable[P, FlowGen[T]]], Callable[P, FlowCall[T]]]: ...


def flow(
    name: Flow,
    *,
    shortcut: Callable[..., Any] | None = None,
    bare: Callable[..., Any] | None = None,
    nests: tuple[Flow, ...] = (),
) -> Any:
    """Declare a generator function as the flow ``name``: calling it returns a :class:`FlowCall`.

    Args:
        name: the flow.
        shortcut: a function of the same arguments that computes the flow's result without running it, or
            returns ``None`` when it cannot (a validated-token cache miss). A driver takes it only when nothing
            would see the run: no hook at any point of the flow and, for a top-level flow, no active observer.
        bare: a generator function of the same arguments that does the flow's work without its hook points and
            notes, and runs no nested flow (it calls their plain work directly); a driver runs it instead of the
            flow when nothing would see the run: no hook at any point of the flow or of the flows it ``nests``, and
            no active observer. Both variants are built from the same steps, so they cannot drift apart.
        nests: the flows this one runs nested (see ``bare``).
    """
    value = name.value
    nested = tuple(f.value for f in nests)

    def declare(fn: Callable[P, FlowGen[T]], /) -> Callable[P, FlowCall[T]]:
        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> FlowCall[T]:
            return FlowCall(value, fn, args, kwargs, shortcut, bare, nested)

        return call

    return declare
