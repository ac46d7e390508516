"""Fixtures for the identity-flow tests: an engine per test, parametrized over the sync and async APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from _clock import Clock
from flows._identity import call, make_auth

Call = Callable[..., Awaitable[Any]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def auth(tmp_path: Path, clock: Clock) -> AsyncIterator[Any]:
    engine = make_auth(tmp_path, clock=clock)
    yield engine
    await engine.aclose(timeout=2.0)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api(auth: Any, mode: str) -> Call:
    """``await api("login", subject, creds, scheme=…)`` through the async API or its ``auth.sync`` twin."""

    async def run(method: str, *args: Any, **kwargs: Any) -> Any:
        return await call(auth, mode, method, *args, **kwargs)

    return run
