"""What a hook can ask for besides the point's inputs: the request, the store, the ``AuthHooks`` instance, the
point name and the frozen event."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from authhooks.events import Event
from authhooks.hooks.points import HookPoint
from authhooks.records import RequestInfo

__all__ = ["HookContext", "make_event"]


@dataclass(frozen=True, slots=True)
class HookContext:
    """The context parameters of one flow run (``request``, ``store``, ``auth``).

    Attributes:
        auth: the :class:`~authhooks.AuthHooks` instance.
        request: the HTTP request behind the flow, or ``None`` for a plain API call.
    """

    auth: Any
    request: RequestInfo | None = None

    @property
    def store(self) -> Any:
        """The state store of ``auth`` (opened on first use)."""
        return self.auth.store

    def with_request(self, request: RequestInfo | None) -> HookContext:
        """The same context for another request."""
        return self if request is self.request else HookContext(self.auth, request)


def make_event(point: HookPoint, values: dict[str, Any], ctx: HookContext) -> Event:
    """Build the frozen :class:`~authhooks.events.Event` a hook gets by naming ``event``."""
    return Event(point.name, point.flow, point.stage, MappingProxyType(dict(values)), ctx.request)
