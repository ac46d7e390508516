"""The store contract against ``sqlite:///``, plus what only a file shared by processes can show."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from authhooks.config import Settings
from authhooks.errors import ConfigurationError, StoreUnavailableError
from authhooks.stores import SQLiteStore, open_store
from authhooks.stores.sqlite import path_from_url

from . import _workers
from .contract import *  # noqa: F403
from .contract import wait_until


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    sqlite_store = SQLiteStore(tmp_path / "state.sqlite3", timeout=5.0)
    yield sqlite_store
    await sqlite_store.aclose()


def test_url_forms(tmp_path: Path) -> None:
    assert path_from_url("sqlite:///state/x.db") == Path("state/x.db")
    assert path_from_url("sqlite:////var/lib/x.db") == Path("/var/lib/x.db")
    for bad in ("sqlite://", "sqlite:///", "sqlite://host/x.db"):
        with pytest.raises(ConfigurationError, match="AUTHHOOKS_STORE_URL"):
            path_from_url(bad)
    store = open_store(f"sqlite:///{tmp_path}/deep/er/x.db")  # absolute: sqlite:////tmp/...
    try:
        assert isinstance(store, SQLiteStore)
        assert (tmp_path / "deep" / "er" / "x.db").is_file()  # parent directories created
    finally:
        store.sync.close()


def test_relative_url_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel/state.db")
    store.sync.close()
    assert (tmp_path / "rel" / "state.db").is_file()


def test_default_store_is_sqlite_in_state_dir(tmp_path: Path) -> None:
    store = open_store(settings=Settings(state_dir=tmp_path / "state"))
    try:
        assert isinstance(store, SQLiteStore)
        store.sync.set("k", b"v")
        assert (tmp_path / "state" / "state.sqlite3").is_file()
    finally:
        store.sync.close()


def test_values_survive_reopening(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "s.db")
    first.sync.set("revoked:jti", b"1", ttl=60)
    first.sync.sadd("family", "a")
    first.close()
    second = SQLiteStore(tmp_path / "s.db")
    try:
        assert second.sync.get("revoked:jti") == b"1"
        assert second.sync.smembers("family") == {"a"}
        with sqlite3.connect(tmp_path / "s.db") as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        raw.close()
    finally:
        second.close()


def test_expired_rows_are_purged_in_bounded_batches(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        for i in range(300):
            store.sync.set(f"gone{i}", b"x", ttl=0.01)
        time.sleep(0.05)
        for i in range(300):  # crosses the purge threshold again
            store.sync.set(f"live{i}", b"x", ttl=60)
        with sqlite3.connect(tmp_path / "s.db") as raw:
            left = raw.execute("SELECT COUNT(*) FROM kv WHERE key LIKE 'gone%'").fetchone()[0]
        raw.close()
        assert left < 300
    finally:
        store.close()


async def test_async_api_does_not_block_the_loop(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", timeout=5.0)
    raw = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        write = asyncio.create_task(store.set("k", b"v"))
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done()
        assert ticks == 10
        raw.execute("COMMIT")
        await asyncio.wait_for(write, 5)
        assert await store.get("k") == b"v"
    finally:
        raw.close()
        await store.aclose()


def test_lock_held_too_long_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", timeout=0.2)
    raw = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="sqlite"):
            store.sync.set("k", b"v")
        assert time.monotonic() - started < 1.0
        raw.execute("ROLLBACK")
        store.sync.set("k", b"v")  # works again once the lock is released
    finally:
        raw.close()
        store.close()


def test_subscribers_in_two_stores_on_one_file(tmp_path: Path) -> None:
    publisher, listener = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db", poll_interval=0.02)
    got: list[bytes] = []
    sub = listener.subscribe("revocations", got.append)
    try:
        publisher.sync.publish("revocations", b"jti-1")
        assert wait_until(lambda: got == [b"jti-1"])
    finally:
        sub.close()
        publisher.close()
        listener.close()


@pytest.mark.slow
def test_processes_race_take_each_key_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    keys = [f"challenge{i}" for i in range(200)]
    store = SQLiteStore(path)
    done: list[bytes] = []
    sub = store.subscribe("done", done.append)
    try:
        for key in keys:
            store.sync.set(key, b"x", ttl=60)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(2)
        outs = [str(tmp_path / f"won{i}.txt") for i in range(2)]
        procs = [ctx.Process(target=_workers.take_all, args=(path, keys, barrier, out)) for out in outs]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
            assert proc.exitcode == 0
        won = [Path(out).read_text().split() for out in outs]
        assert sorted(won[0] + won[1]) == sorted(keys)  # each key taken exactly once overall
        assert wait_until(lambda: len(done) == 2)  # messages from other processes arrive
    finally:
        sub.close()
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "exit"])
def test_write_survives_abrupt_process_death(tmp_path: Path, how: str) -> None:
    path = str(tmp_path / "s.db")
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_workers.write_then_die, args=(path, how))
    proc.start()
    proc.join(30)
    assert proc.exitcode == (-9 if how == "kill" else 0)
    store = SQLiteStore(path)
    try:
        assert store.sync.get("durable") == b"survives"
        assert store.sync.incr("counter", 60) == 4
    finally:
        store.close()


def test_failed_polls_are_a_gap_reported_to_the_subscriber(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While polling fails, the subscription is not live (``on_status(False)``); once a poll succeeds, what was
    published meanwhile is delivered and then ``on_status(True)`` is called."""
    publisher, listener = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db", poll_interval=0.02)
    statuses: list[bool] = []
    got: list[bytes] = []
    sub = listener.subscribe("revocations", got.append, statuses.append)
    real_conn = listener.sync._conn
    broken = True

    def failing_conn() -> Any:
        if broken:
            raise StoreUnavailableError("disk gone")
        return real_conn()

    try:
        monkeypatch.setattr(listener.sync, "_conn", failing_conn)
        assert wait_until(lambda: statuses == [True, False])
        assert not sub.live
        publisher.sync.publish("revocations", b"during the gap")
        broken = False
        assert wait_until(lambda: statuses == [True, False, True])
        assert sub.live
        assert got == [b"during the gap"]
    finally:
        sub.close()
        publisher.close()
        listener.close()
