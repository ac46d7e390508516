"""The store contract: every backend runs these tests unchanged.

A backend's test module defines an (async) ``store`` fixture and does ``from .contract import *``. Most tests run
twice through the ``ops`` fixture: once through the async API, once through ``store.sync`` (wrapped so the same
test body drives it).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from authhooks.stores.base import Store

__all__ = [
    "ops",
    "test_add_only_when_absent",
    "test_add_race_threads",
    "test_delete",
    "test_expiry",
    "test_failing_handler_does_not_stop_delivery",
    "test_get_set",
    "test_incr_concurrent_async",
    "test_incr_concurrent_threads",
    "test_incr_fixed_window",
    "test_ping",
    "test_publish_subscribe",
    "test_sets",
    "test_subscription_reports_live",
    "test_take_once",
    "test_take_race_async",
    "test_take_race_threads",
    "wait_until",
]

EXPIRY = 0.2


class _SyncAsAsync:
    """Drives ``store.sync`` through the async call shape, so one test body checks both APIs."""

    def __init__(self, store: Store) -> None:
        self._sync = store.sync

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


@pytest.fixture(params=["async", "sync"])
def ops(request: pytest.FixtureRequest, store: Store) -> Any:
    return store if request.param == "async" else _SyncAsAsync(store)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` every 10 ms until it holds or ``timeout`` passes (pub/sub delivery is asynchronous)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def test_get_set(ops: Any) -> None:
    assert await ops.get("k") is None
    await ops.set("k", b"v1")
    assert await ops.get("k") == b"v1"
    await ops.set("k", b"\x00\xffv2")
    assert await ops.get("k") == b"\x00\xffv2"
    assert await ops.ttl("k") is None
    assert await ops.ttl("missing") is None


async def test_expiry(ops: Any) -> None:
    await ops.set("value", b"v", EXPIRY)
    assert await ops.add("added", b"a", EXPIRY)
    assert await ops.incr("counter", EXPIRY) == 1
    await ops.sadd("set", "m", EXPIRY)
    await ops.set("forever", b"f")
    for key in ("value", "added", "counter"):
        remaining = await ops.ttl(key)
        assert remaining is not None
        assert 0 < remaining <= EXPIRY
    assert await ops.smembers("set") == {"m"}

    await asyncio.sleep(EXPIRY + 0.1)

    assert await ops.get("value") is None
    assert await ops.get("added") is None
    assert await ops.ttl("value") is None
    assert await ops.take("value") is None
    assert await ops.delete("value") is False
    assert await ops.smembers("set") == frozenset()
    assert await ops.srem("set", "m") is False
    assert await ops.add("added", b"again")  # an expired key counts as absent
    assert await ops.get("added") == b"again"
    assert await ops.incr("counter", 10) == 1  # a new window starts from zero
    assert await ops.get("forever") == b"f"
    assert await ops.get_many(["value", "forever"]) == [None, b"f"]  # an expired key reads as absent


async def test_get_many_in_order(ops: Any) -> None:
    assert await ops.get_many([]) == []
    await ops.set("a", b"1")
    await ops.set("c", b"\x00")
    assert await ops.get_many(["c", "b", "a", "c"]) == [b"\x00", None, b"1", b"\x00"]


async def test_add_only_when_absent(ops: Any) -> None:
    assert await ops.add("k", b"first") is True
    assert await ops.add("k", b"second") is False
    assert await ops.get("k") == b"first"


async def test_take_once(ops: Any) -> None:
    assert await ops.take("k") is None
    await ops.set("k", b"v")
    assert await ops.take("k") == b"v"
    assert await ops.take("k") is None
    assert await ops.get("k") is None


async def test_delete(ops: Any) -> None:
    await ops.set("k", b"v")
    assert await ops.delete("k") is True
    assert await ops.get("k") is None
    assert await ops.delete("k") is False


async def test_incr_fixed_window(ops: Any) -> None:
    assert await ops.incr("c", 10) == 1
    first = await ops.ttl("c")
    assert await ops.incr("c", 10) == 2
    assert await ops.incr("c", 10, amount=5) == 7
    later = await ops.ttl("c")
    assert first is not None
    assert later is not None
    assert later <= first <= 10  # later increments do not extend the window
    assert await ops.get("c") == b"7"


async def test_sets(ops: Any) -> None:
    assert await ops.smembers("s") == frozenset()
    await ops.sadd("s", "a")
    await ops.sadd("s", "b")
    await ops.sadd("s", "a")
    assert await ops.smembers("s") == {"a", "b"}
    assert await ops.srem("s", "a") is True
    assert await ops.srem("s", "a") is False
    assert await ops.smembers("s") == {"b"}
    await ops.sadd("t", "x", 30)
    await ops.sadd("t", "y")  # without a TTL the set keeps its expiry
    assert await ops.smembers("t") == {"x", "y"}


async def test_ping(ops: Any, store: Store) -> None:
    assert isinstance(store, Store)
    assert "://" in store.url
    await ops.ping()


def _race(n: int, target: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = target()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_take_race_threads(store: Store) -> None:
    for round_ in range(3):
        store.sync.set(f"once{round_}", b"secret")
        results = _race(20, functools.partial(store.sync.take, f"once{round_}"))
        assert results.count(b"secret") == 1
        assert results.count(None) == 19


def test_add_race_threads(store: Store) -> None:
    results = _race(20, lambda: store.sync.add("claim", b"x", 30))
    assert results.count(True) == 1
    assert results.count(False) == 19


async def test_take_race_async(store: Store) -> None:
    await store.set("once", b"secret")
    results = await asyncio.gather(*(store.take("once") for _ in range(20)))
    assert results.count(b"secret") == 1
    assert results.count(None) == 19


def test_incr_concurrent_threads(store: Store) -> None:
    def work() -> list[int]:
        return [store.sync.incr("hits", 30) for _ in range(20)]

    results = _race(10, work)
    counts = sorted(c for batch in results for c in batch)  # type: ignore[attr-defined]
    assert counts == list(range(1, 201))  # every increment seen, none lost, none duplicated


async def test_incr_concurrent_async(store: Store) -> None:
    counts = await asyncio.gather(*(store.incr("hits", 30) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))


async def test_publish_subscribe(ops: Any, store: Store) -> None:
    got: list[bytes] = []
    other: list[bytes] = []
    await ops.publish("news", b"before")  # published before subscribing: never delivered
    sub = store.subscribe("news", got.append)
    sub_other = store.subscribe("other", other.append)
    try:
        await ops.publish("news", b"one")
        await ops.publish("news", b"two")
        assert await asyncio.to_thread(wait_until, lambda: len(got) >= 2)
        assert got == [b"one", b"two"]
    finally:
        sub.close()
    await ops.publish("news", b"after close")
    await ops.publish("other", b"still open")
    assert await asyncio.to_thread(wait_until, lambda: other == [b"still open"])
    sub_other.close()
    assert got == [b"one", b"two"]


def test_subscription_reports_live(store: Store) -> None:
    """``on_status(True)`` before ``subscribe`` returns (the backend answers), ``live`` until ``close()``, and no
    status call after it; a failing status handler does not stop delivery."""
    statuses: list[bool] = []
    got: list[bytes] = []
    sub = store.subscribe("status", got.append, statuses.append)
    assert statuses == [True]
    assert sub.live

    def broken(live: bool) -> None:
        raise RuntimeError("status handler bug")

    other = store.subscribe("status", lambda message: None, broken)
    try:
        store.sync.publish("status", b"1")
        assert wait_until(lambda: got == [b"1"])
    finally:
        sub.close()
        other.close()
    assert not sub.live
    assert statuses == [True]


def test_failing_handler_does_not_stop_delivery(store: Store) -> None:
    got: list[bytes] = []

    def broken(message: bytes) -> None:
        raise RuntimeError("handler bug")

    subs = [store.subscribe("c", broken), store.subscribe("c", got.append)]
    try:
        store.sync.publish("c", b"1")
        store.sync.publish("c", b"2")
        assert wait_until(lambda: got == [b"1", b"2"])
    finally:
        for sub in subs:
            sub.close()
