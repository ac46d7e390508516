"""The base that flow families build their public methods on.

``AuthHooks`` derives from :class:`FlowHost` and from one mixin per flow family (tokens, identity), so each
family's public methods (async, with ``*_sync`` twins) live next to its flows, in a module of its own. The
mixins rely only on what is declared here, which ``AuthHooks`` implements.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from authhooks.config import Settings
    from authhooks.events import RequestInfo
    from authhooks.flows.driver import Runtime
    from authhooks.hooks.points import HookPoint, PointSpec
    from authhooks.hooks.registry import Registry
    from authhooks.stores.base import Store

__all__ = ["FlowHost"]

T = TypeVar("T")


class FlowHost:
    """What a flow family needs from ``AuthHooks``: settings, store, points, registry and the two drivers."""

    if TYPE_CHECKING:
        settings: Settings
        _registry: Registry
        _runtime: Runtime

        @property
        def store(self) -> Store: ...

        def point(self, spec: PointSpec) -> HookPoint: ...

        def run_flow_sync(self, flow: str, gen: Generator[Any, Any, T], request: RequestInfo | None = None) -> T: ...

        async def run_flow(self, flow: str, gen: Generator[Any, Any, T], request: RequestInfo | None = None) -> T: ...
