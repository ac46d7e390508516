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
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar, Union

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
    """Tell observers how the flow is going: its outcome, reason or subject (no I/O; sends back ``None``)."""

    outcome: Outcome | None = None
    reason: str | None = None
    subject: str | None = None


Effect = Union[RunHooks, StoreCall, Call, SubFlow, Note]  # noqa: UP007 - a runtime alias under Python 3.10
FlowGen = Generator[Effect, Any, T]
"""A sans-IO flow returning ``T``."""


class FlowCall(Generic[T]):
    """A flow ready to run: which :class:`~authhooks.events.Flow` it is (or, for an application point fired with
    ``auth.fire``, the application's flow name) and its generator.

    ``shortcut`` (optional) computes the same result without the generator; the driver takes it, and closes the
    generator unrun, when the flow is *idle* — no hook at any point of the flow and no active observer — and
    the shortcut returns something other than ``None`` (a validated-token cache hit, a plain signature check).
    """

    __slots__ = ("flow", "gen", "shortcut")

    def __init__(self, flow: Flow | str, gen: FlowGen[T], shortcut: Callable[[], T | None] | None = None) -> None:
        self.flow = flow
        self.gen = gen
        self.shortcut = shortcut

    def __repr__(self) -> str:
        return f"FlowCall({self.flow})"


def flow(name: Flow) -> Callable[[Callable[P, FlowGen[T]]], Callable[P, FlowCall[T]]]:
    """Declare a generator function as the flow ``name``: calling it returns a :class:`FlowCall`."""

    def declare(fn: Callable[P, FlowGen[T]]) -> Callable[P, FlowCall[T]]:
        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> FlowCall[T]:
            return FlowCall(name, fn(*args, **kwargs))

        call.flow = name  # type: ignore[attr-defined]
        return call

    return declare
