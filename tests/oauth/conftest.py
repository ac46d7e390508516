"""Fixtures for the OAuth and session tests: an engine whose one provider, ``fake``, is a
:class:`~oauth._fake_provider.FakeProvider` behind ``httpx.MockTransport``, and its clock a test can move."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from authhooks import AuthHooks
from authhooks.oauth import OAuthProvider, OAuthService
from oauth._fake_provider import ISSUER, FakeProvider


class Clock:
    """The engine's injected wall clock, which a test can move (``clock.skew`` seconds ahead)."""

    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """``(REDIS_URL, a unique key prefix)``, the keys removed afterwards; skipped when no Redis answers, except
    under ``CI=true`` (the policy of tests/stores/test_redis.py)."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        client.close()
        reason = f"no Redis answers at REDIS_URL ({type(exc).__name__})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires one")
        pytest.skip(reason)
    prefix = f"authhooks-test-oauth:{uuid.uuid4().hex}:"
    try:
        yield url, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


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
