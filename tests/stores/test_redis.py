"""The store contract against ``redis://``, plus a Redis that is down, comes back, and never leaks a password.

Policy: tests use the server at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/15``), each with its own key
prefix, removed afterwards. When no Redis answers they are skipped, except under ``CI=true``, where that fails.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from _redis import redis_prefix, require_redis
from authhooks.config import Settings
from authhooks.errors import ConfigurationError, StoreError, StoreUnavailableError
from authhooks.stores import check_store, open_store
from authhooks.stores.redis import RedisStore

from .contract import *  # noqa: F403
from .contract import wait_until

TIMEOUT = 0.3
MARGIN = 0.5


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_redis()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    with redis_prefix() as unique:
        yield unique


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    redis_store = RedisStore(redis_url, prefix=prefix, timeout=2.0)
    yield redis_store
    await redis_store.aclose()


async def test_keys_and_channels_are_prefixed(store: RedisStore, redis_url: str, prefix: str) -> None:
    await store.set("k", b"v")
    raw = redis.Redis.from_url(redis_url)
    try:
        assert raw.get(f"{prefix}k") == b"v"
        assert raw.get("k") is None
        got: list[bytes] = []
        sub = store.subscribe("chan", got.append)
        try:
            raw.publish(f"{prefix}chan", b"hello")
            assert await asyncio.to_thread(wait_until, lambda: got == [b"hello"])
        finally:
            sub.close()
    finally:
        raw.close()


async def test_prefix_from_url_and_settings(redis_url: str, prefix: str) -> None:
    joiner = "&" if "?" in redis_url else "?"
    from_url = open_store(f"{redis_url}{joiner}prefix={prefix}url:", Settings(store_key_prefix="ignored:"))
    from_settings = open_store(redis_url, Settings(store_key_prefix=f"{prefix}settings:"))
    try:
        assert isinstance(from_url, RedisStore)
        assert from_url.prefix == f"{prefix}url:"
        assert isinstance(from_settings, RedisStore)
        assert from_settings.prefix == f"{prefix}settings:"
        await from_url.set("k", b"1")
        assert await from_settings.get("k") is None
        await check_store(from_url)
    finally:
        await from_url.aclose()
        await from_settings.aclose()


async def test_store_works_from_two_event_loops(store: RedisStore) -> None:
    await store.set("k", b"v")

    def in_other_loop() -> bytes | None:
        async def read() -> bytes | None:
            try:
                return await store.get("k")
            finally:
                await store.aclose()

        return asyncio.run(read())

    assert await asyncio.to_thread(in_other_loop) == b"v"
    assert await store.get("k") == b"v"


def test_malformed_urls_are_configuration_errors() -> None:
    for bad in ("redis://:secret@host:notaport/0", "redis://", "redis://h:6379/notadb"):
        with pytest.raises(ConfigurationError, match="AUTHHOOKS_STORE_URL") as info:
            open_store(bad)
        assert "secret" not in str(info.value)
    with pytest.raises(ConfigurationError, match=r"AUTHHOOKS_STORE_URL.*'ftp'.*sqlite:///"):
        open_store("ftp://example.org/x")
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_STORE_URL"):
        open_store("no scheme at all")


# -- Redis down -------------------------------------------------------------------------------------------------

_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("get", ("k",)),
    ("set", ("k", b"v", 10)),
    ("add", ("k", b"v", 10)),
    ("take", ("k",)),
    ("delete", ("k",)),
    ("incr", ("k", 10)),
    ("ttl", ("k",)),
    ("sadd", ("s", "m", 10)),
    ("smembers", ("s",)),
    ("srem", ("s", "m")),
    ("publish", ("c", b"m")),
    ("ping", ()),
]


def _check_down_sync(store: RedisStore, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    for name, args in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            getattr(store.sync, name)(*args)
        assert time.monotonic() - started < TIMEOUT + MARGIN, name
        assert "hunter2" not in str(info.value)
        assert "127.0.0.1" in str(info.value)
    with pytest.raises(StoreUnavailableError):
        store.subscribe("c", lambda message: None)


async def _check_down_async(store: RedisStore, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    for name, args in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            await getattr(store, name)(*args)
        assert time.monotonic() - started < TIMEOUT + MARGIN, name
        assert "hunter2" not in str(info.value)
    with pytest.raises(StoreUnavailableError, match=r"\*\*\*"):
        await check_store(store)


async def test_nothing_listening_is_unavailable_at_once() -> None:
    store = RedisStore("redis://:hunter2@127.0.0.1:1/0", timeout=TIMEOUT)
    assert "hunter2" not in store.url
    assert "hunter2" not in repr(store)
    try:
        await asyncio.to_thread(_check_down_sync, store, _CALLS)
        await _check_down_async(store, _CALLS)
    finally:
        await store.aclose()


async def test_server_that_never_answers_times_out_within_the_bound() -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://:hunter2@127.0.0.1:{port}/0", timeout=TIMEOUT)
        try:
            await asyncio.to_thread(_check_down_sync, store, [("get", ("k",)), ("incr", ("k", 10))])
            await _check_down_async(store, [("take", ("k",))])
        finally:
            await store.aclose()


# -- Redis comes back -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    assert server is not None
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=0.2, socket_connect_timeout=0.2)
    try:
        assert wait_until(lambda: _answers(client), timeout=10), "redis-server did not start"
    finally:
        client.close()
    return proc


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not on PATH")
async def test_same_store_recovers_when_redis_comes_back() -> None:
    port = _free_port()
    proc = _start_redis(port)
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=TIMEOUT)
    got: list[bytes] = []
    statuses: list[bool] = []
    sub = None
    try:
        await store.set("k", b"before")
        store.sync.set("k2", b"before")
        sub = store.subscribe("chan", got.append, statuses.append)
        assert statuses == [True]
        await store.publish("chan", b"1")
        assert await asyncio.to_thread(wait_until, lambda: got == [b"1"])

        await asyncio.to_thread(_stop, proc)
        assert await asyncio.to_thread(wait_until, lambda: statuses == [True, False])  # the gap is noticed
        assert not sub.live
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        with pytest.raises(StoreUnavailableError):
            store.sync.get("k")

        proc = await asyncio.to_thread(_start_redis, port)  # empty: no persistence
        await store.set("k", b"after")
        assert await store.get("k") == b"after"
        store.sync.set("k2", b"after")
        assert store.sync.get("k2") == b"after"

        def resumed() -> bool:  # the listener reconnects in the background; publish until it hears
            store.sync.publish("chan", b"2")
            return b"2" in got

        assert await asyncio.to_thread(wait_until, resumed, 10)
        assert statuses == [True, False, True]
        assert sub.live
    finally:
        if sub is not None:
            sub.close()
        await store.aclose()
        await asyncio.to_thread(_stop, proc)


def test_other_redis_errors_are_store_errors(store: RedisStore) -> None:
    store.sync.sadd("s", "m")
    with pytest.raises(StoreError) as info:
        store.sync.get("s")  # WRONGTYPE
    assert not isinstance(info.value, StoreUnavailableError)


# -- one retry on a broken connection -------------------------------------------------------------------------


class _Flaky:
    """Wraps a client method: the first ``fail`` calls raise ``error``, after running the real call when
    ``applied`` (the command reached Redis, its answer was lost) or without running it (it never left)."""

    def __init__(self, real: Any, error: Exception, *, fail: int = 1, applied: bool = False) -> None:
        self.real, self.error, self.fail, self.applied, self.calls = real, error, fail, applied, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self.fail:
            return self.real(*args, **kwargs)
        if self.applied:
            self.real(*args, **kwargs)
        raise self.error


class _AsyncFlaky(_Flaky):
    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self.fail:
            return await self.real(*args, **kwargs)
        if self.applied:
            await self.real(*args, **kwargs)
        raise self.error


_BROKEN = redis.exceptions.ConnectionError("Connection closed by server.")


def _flaky(store: RedisStore, mode: str, method: str, **kwargs: Any) -> _Flaky:
    client: Any = store.sync.client if mode == "sync" else store._client()
    kind = _Flaky if mode == "sync" else _AsyncFlaky
    flaky = kind(getattr(client, method), kwargs.pop("error", _BROKEN), **kwargs)
    setattr(client, method, flaky)
    return flaky


async def _call(store: RedisStore, mode: str, name: str, *args: Any) -> Any:
    if mode == "sync":
        return getattr(store.sync, name)(*args)
    return await getattr(store, name)(*args)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_broken_connection_is_retried_once(store: RedisStore, mode: str) -> None:
    await store.set("k", b"v")
    flaky = _flaky(store, mode, "get")
    assert await _call(store, mode, "get", "k") == b"v"
    assert flaky.calls == 2
    flaky = _flaky(store, mode, "get", fail=2)
    with pytest.raises(StoreUnavailableError, match="closed by server"):
        await _call(store, mode, "get", "k")
    assert flaky.calls == 2  # once, not more


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_timeouts_and_bad_credentials_are_not_retried(store: RedisStore, mode: str) -> None:
    for error in (redis.exceptions.TimeoutError("Timeout reading"), redis.exceptions.AuthenticationError("no")):
        flaky = _flaky(store, mode, "get", error=error)
        with pytest.raises(StoreUnavailableError):
            await _call(store, mode, "get", "k")
        assert flaky.calls == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_take_and_add_answer_only_when_the_retry_proves_the_first_attempt_did_nothing(
    store: RedisStore, mode: str
) -> None:
    # The first attempt never reached Redis: the retry's answer is the answer.
    await store.set("t", b"v")
    _flaky(store, mode, "getdel")
    assert await _call(store, mode, "take", "t") == b"v"
    _flaky(store, mode, "set")
    assert await _call(store, mode, "add", "a", b"v", 10) is True
    # The first attempt was applied and its answer lost: "absent" / "already there" would be wrong, so it raises.
    await store.set("t2", b"v")
    _flaky(store, mode, "getdel", applied=True)
    with pytest.raises(StoreUnavailableError, match="may have been applied"):
        await _call(store, mode, "take", "t2")
    _flaky(store, mode, "set", applied=True)
    with pytest.raises(StoreUnavailableError, match="may have been applied"):
        await _call(store, mode, "add", "a2", b"v", 10)
    assert await store.get("a2") == b"v"
