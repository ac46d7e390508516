"""Fixtures for the OAuth and session tests: an engine whose one provider, ``fake``, is a
:class:`~oauth._fake_provider.FakeProvider` behind ``httpx.MockTransport``, and its clock a test can move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import _redis
from _clock import Clock
from authhooks import AuthHooks
from authhooks.oauth import OAuthProvider, OAuthService
from oauth._fake_provider import ISSUER, FakeProvider


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """``(REDIS_URL, a unique key prefix)``, the keys removed afterwards (the rule of tests/_redis.py)."""
    with _redis.redis_prefix("authhooks-test-oauth") as prefix:
        yield _redis.REDIS_URL, prefix


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


def provider_config(fake: FakeProvider, **extra: Any) -> OAuthProvider:
    return OAuthProvider(
        name="fake",
        issuer=ISSUER,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        redirect_uri="https://app.test/auth/oauth/fake/callback",
        **extra,
    )


def make_engine(
    tmp_path: Path,
    fake: FakeProvider,
    clock: Clock,
    store_url: str = "memory://",
    settings: dict[str, Any] | None = None,
    **extra: Any,
) -> AuthHooks:
    auth = AuthHooks(
        store_url=store_url, state_dir=tmp_path, telemetry=False, clock=clock, sessions=True, **(settings or {})
    )
    auth.oauth = OAuthService(auth.settings, [provider_config(fake, **extra)], transport=fake.transport)
    return auth


@pytest.fixture
async def auth(tmp_path: Path, fake: FakeProvider, clock: Clock) -> AsyncIterator[AuthHooks]:
    engine = make_engine(tmp_path, fake, clock)
    yield engine
    await engine.aclose(timeout=2.0)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


Api = Callable[..., Awaitable[Any]]


@pytest.fixture
def api(auth: AuthHooks, mode: str) -> Api:
    """``await api("oauth_callback", …)`` through the async API or its ``auth.sync`` twin (in a thread)."""

    async def run(method: str, *args: Any, **kwargs: Any) -> Any:
        if mode == "sync":
            return await asyncio.to_thread(getattr(auth.sync, method), *args, **kwargs)
        return await getattr(auth, method)(*args, **kwargs)

    return run
