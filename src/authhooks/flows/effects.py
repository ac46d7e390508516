"""The effects a sans-IO flow yields; a driver performs each and sends the result back.

A flow is a generator: ``result = yield Effect`` for every step that needs the world (hooks, the store, the
network, a nested flow). The same generator is driven by :func:`~authhooks.flows.driver.run_sync` (WSGI, the
``*_sync`` API) and :func:`~authhooks.flows.driver.run_async` (ASGI, the async API). Exceptions raised while
performing an effect (a hook's ``Deny``, a store fault) are thrown into the generator at the ``yield``, so a
flow can catch them, fire its ``failed`` hooks and re-raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from authhooks.events import Outcome
from authhooks.hooks.points import HookPoint

__all__ = ["Call", "Effect", "FlowGen", "Note", "RunHooks", "StoreCall", "SubFlow"]

T = TypeVar("T")


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

    flow: str
    gen: Generator[Any, Any, Any]


@dataclass(slots=True)
class Note:
    """Tell observers how the flow is going: its outcome, reason or subject (no I/O; sends back ``None``)."""

    outcome: Outcome | None = None
    reason: str | None = None
    subject: str | None = None


Effect = RunHooks | StoreCall | Call | SubFlow | Note
FlowGen = Generator[Effect, Any, T]
"""A sans-IO flow returning ``T``."""
