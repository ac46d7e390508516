"""Fixtures for the hook-engine tests: an ``AuthHooks`` per test and one ``fire`` for both drivers.

The dispatcher has a fast path (no observers attached) and an observed path; ``auth`` is parametrized over
both so every semantic test checks that they agree. ``fire`` is parametrized over the sync and async drivers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from authhooks import AuthHooks, FireResult
from authhooks.testing import HookRecorder

Fire = Callable[..., Awaitable[FireResult]]


@pytest.fixture(params=["plain", "observed"])
def auth(request: pytest.FixtureRequest) -> Iterator[AuthHooks]:
    """An engine without observers (dispatch's fast path) and one with a recorder attached."""
    engine = AuthHooks(store_url="memory://")
    if request.param == "observed":
        engine.add_observer(HookRecorder())
    yield engine
    engine.close(timeout=2.0)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fire(mode: str) -> Fire:
    """``await fire(auth, point, **inputs)`` through ``fire_sync`` or ``fire``, per ``mode``."""

    async def run(engine: AuthHooks, point: Any, **inputs: Any) -> FireResult:
        if mode == "sync":
            return engine.sync.fire(point, **inputs)
        return await engine.fire(point, **inputs)

    return run
