"""The seam between the driver-neutral route logic and the two HTTP drivers (ASGI and WSGI).

A built-in route is written once, as a generator (the sans-IO style of :mod:`authhooks.flows`): it takes a
:class:`RouteRequest` (method, path, header pairs, :class:`~authhooks.records.RequestInfo`), **yields** an
effect whenever it needs the outside world, receives the effect's result (or has its exception thrown in), and
**returns** the :class:`~authhooks.middleware.responses.Prepared` response. Two effects exist:

:class:`ApiCall`
    call the flows API method ``name``: the ASGI driver awaits ``auth.<name>(…)``
    (:func:`run_async`), the WSGI driver calls its blocking twin ``auth.sync.<name>(…)`` (:func:`run_sync`).
:class:`ReadBody`
    read the request body, bounded by ``limit`` bytes: ASGI ``receive`` with a time bound
    (:func:`~authhooks.middleware.bodies.read_body`), ``wsgi.input`` with ``CONTENT_LENGTH``
    (:func:`~authhooks.middleware.bodies.read_wsgi_body`). Parsing is the route's (shared) business.

The drivers perform nothing else, so both serve the same statuses, headers and bodies for the same input.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from authhooks.middleware.responses import Prepared
from authhooks.records import RequestInfo

__all__ = ["ApiCall", "Effect", "ReadBody", "RouteGen", "RouteRequest", "Steps", "call", "run_async", "run_sync"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """A request as the route logic sees it, whatever the driver.

    Attributes:
        method: the HTTP method (upper case).
        path: the route path (without the mount prefix: ``root_path`` / ``SCRIPT_NAME``).
        headers: the header pairs, names lower-cased, as bytes, in the order received.
        info: the request view hooks get (no credentials in it).
        query: the raw query string (the provider callback route reads it).
    """

    method: str
    path: str
    headers: Sequence[tuple[bytes, bytes]]
    info: RequestInfo
    query: bytes = b""

    def header(self, name: bytes) -> list[bytes]:
        """Every value of header ``name`` (lower-case bytes), in order."""
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True, slots=True)
class ApiCall:
    """Effect: call ``api.<name>(*args, **kwargs)``; the result (awaited when awaitable) is sent back."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReadBody:
    """Effect: read the whole body, at most ``limit`` bytes (413 past it), its ``Content-Length`` value being
    ``content_length`` (``None`` when absent); the bytes are sent back."""

    limit: int
    content_length: bytes | None


Effect = ApiCall | ReadBody
Steps = Generator[Effect, Any, T]
"""Part of a route (``yield from`` it): yields effects, receives their results, returns a ``T``."""
RouteGen = Steps[Prepared]
"""A route: yields effects, receives their results, returns the response."""


def call(name: str, *args: Any, **kwargs: Any) -> ApiCall:
    """The :class:`ApiCall` effect for ``api.<name>(*args, **kwargs)``."""
    return ApiCall(name, args, kwargs)


def _resume(route: Steps[Any], value: Any, error: BaseException | None) -> tuple[Effect | None, Any]:
    """Resume ``route`` with the result of its last effect (``value``), or by throwing in the exception that effect
    raised (``error``), for the route to handle: ``(effect, None)`` for the next effect it yields, ``(None, result)``
    when it returned. The one stepping rule of both drivers."""
    try:
        return (route.send(value) if error is None else route.throw(error)), None
    except StopIteration as stop:
        return None, stop.value


async def run_async(route: Steps[T], api: Any, read: Callable[[ReadBody], Awaitable[bytes]]) -> T:
    """Drive ``route`` (a route, or any :data:`Steps`) under ASGI and return what it returns: flow calls are
    awaited on ``api`` (an :class:`~authhooks.AuthHooks`), bodies read with ``read``. An exception raised by an
    effect is thrown into the route, which may handle it."""
    value: Any = None
    error: BaseException | None = None
    while True:
        effect, result = _resume(route, value, error)
        if effect is None:
            return cast(T, result)
        value, error = None, None
        try:
            if isinstance(effect, ReadBody):
                value = await read(effect)
            else:
                value = getattr(api, effect.name)(*effect.args, **effect.kwargs)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:
            error = exc


def run_sync(route: Steps[T], api: Any, read: Callable[[ReadBody], bytes]) -> T:
    """Drive ``route`` (a route, or any :data:`Steps`) under WSGI and return what it returns: flow calls go to
    ``api`` (``auth.sync``, the blocking twins), bodies are read with ``read``. An exception raised by an effect is
    thrown into the route, which may handle it."""
    value: Any = None
    error: BaseException | None = None
    while True:
        effect, result = _resume(route, value, error)
        if effect is None:
            return cast(T, result)
        value, error = None, None
        try:
            value = (
                read(effect)
                if isinstance(effect, ReadBody)
                else getattr(api, effect.name)(*effect.args, **effect.kwargs)
            )
        except Exception as exc:
            error = exc
