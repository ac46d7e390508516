"""``sqlite:///path``: the embedded default store, one durable file shared by every process on one machine.

Design:

- **Concurrency.** WAL mode (readers never block the writer) and a ``busy_timeout`` so a writer in another
  process waits instead of failing. Every operation is a single statement (``DELETE … RETURNING`` for ``take``,
  an upsert ``… RETURNING`` for ``add`` and ``incr``) or one ``BEGIN IMMEDIATE`` transaction, so it is atomic
  across threads *and* processes. Connections are pooled (one per concurrently running thread), never shared
  between two threads at once.
- **Async.** The async methods run the blocking ones on a small executor owned by the store, so the event loop
  never waits on disk or on a lock; the executor is not tied to a loop.
- **Expiry.** Reads ignore expired rows, so correctness never depends on purging. Purging is opportunistic: every
  ``_PURGE_EVERY`` writes, the writing call deletes at most 512 expired rows per table through an
  index. The cost is bounded (one short indexed delete, well under a millisecond) and amortised, and it needs no
  extra thread to start, stop or leak; a background purger would still take the same write lock.
- **Durability.** ``synchronous=NORMAL`` in WAL mode: a committed write survives the process being killed; only an
  OS crash or power loss may lose the last transactions. Pass ``synchronous="FULL"`` to survive those too.
- **Publish/subscribe.** ``publish`` appends to a ``messages`` table; while at least one subscription is open, a
  daemon thread polls it every ``poll_interval`` seconds and delivers rows with an id above the last one seen.
  SQLite has one writer at a time, so ids are committed in order and none is skipped. Messages older than
  ``_MESSAGE_RETENTION`` seconds are purged. A failed poll is a gap: each subscription's ``on_status(False)`` is
  called at once, and ``on_status(True)`` after the next successful poll has delivered what was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from authhooks.errors import ConfigurationError, StoreError, StoreUnavailableError
from authhooks.stores.base import MessageHandler, StatusHandler, Subscription

__all__ = ["SQLiteStore", "path_from_url"]

_log = logging.getLogger("authhooks.stores")
_T = TypeVar("_T")

_PURGE_EVERY = 256
_MESSAGE_RETENTION = 60.0
_IDLE_CONNECTIONS = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL);
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS sets (key TEXT NOT NULL, member TEXT NOT NULL, expires REAL, PRIMARY KEY (key, member));
CREATE INDEX IF NOT EXISTS sets_expires ON sets (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, body BLOB NOT NULL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created);
"""
# Each purge deletes at most 512 rows per table (the bounded batch) through the partial indexes above.
_PURGE_KV = "DELETE FROM kv WHERE rowid IN (SELECT rowid FROM kv WHERE expires <= ? LIMIT 512)"
_PURGE_SETS = "DELETE FROM sets WHERE rowid IN (SELECT rowid FROM sets WHERE expires <= ? LIMIT 512)"
_PURGE_MESSAGES = "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE created <= ? LIMIT 512)"


def path_from_url(url: str) -> Path:
    """Return the file named by ``sqlite:///relative/path`` or ``sqlite:////absolute/path``.

    Raises:
        ConfigurationError: the URL is not a ``sqlite:///`` URL with a path (names ``AUTHHOOKS_STORE_URL``).
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.startswith("/") or parts.path == "/":
        raise ConfigurationError("AUTHHOOKS_STORE_URL: expected sqlite:///relative/path or sqlite:////absolute/path")
    return Path(parts.path[1:])


class _Subscription:
    __slots__ = ("_closed", "_owner", "after", "channel", "handler", "live", "on_status")

    def __init__(
        self,
        owner: _SQLiteSync,
        channel: str,
        handler: MessageHandler,
        after: int,
        on_status: StatusHandler | None,
    ) -> None:
        self._owner, self.channel, self.handler, self.after = owner, channel, handler, after
        self.on_status = on_status
        self.live = False
        self._closed = False

    def set_live(self, live: bool) -> None:
        if self.live is live or self._closed:
            return
        self.live = live
        if self.on_status is not None:
            try:
                self.on_status(live)
            except Exception:
                _log.exception("state store: a subscription status handler raised")

    def close(self) -> None:
        self._closed, self.live = True, False
        self._owner._unsubscribe(self)


class _SQLiteSync:
    """The blocking operations of :class:`SQLiteStore` (see :class:`~authhooks.stores.base.SyncStore`)."""

    def __init__(
        self, path: Path, timeout: float, poll_interval: float, synchronous: Literal["NORMAL", "FULL"]
    ) -> None:
        self._path, self._timeout, self._poll_interval = path, timeout, poll_interval
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._all: set[sqlite3.Connection] = set()
        self._writes = 0
        self._closed = False
        self._subs: list[_Subscription] = []
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot create the directory of state store {path}: {exc}") from exc
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    # -- connections -------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"state store sqlite:///{self._path} is closed")
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._connect()
                with self._lock:
                    self._all.add(conn)
            yield conn
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"state store sqlite:///{self._path} is unavailable: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"state store sqlite:///{self._path} failed: {exc}") from exc
        finally:
            if conn is not None:
                if conn.in_transaction:
                    conn.rollback()
                with self._lock:
                    keep = not self._closed and len(self._idle) < _IDLE_CONNECTIONS
                    if keep:
                        self._idle.append(conn)
                    else:
                        self._all.discard(conn)
                if not keep:
                    conn.close()

    def _one(self, sql: str, params: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._conn() as conn:
            row: tuple[object, ...] | None = conn.execute(sql, params).fetchone()
            return row

    def _write(self, sql: str, params: tuple[object, ...]) -> tuple[object, ...] | None:
        with self._conn() as conn:
            row: tuple[object, ...] | None = conn.execute(sql, params).fetchone()
            self._wrote(conn)
            return row

    def _wrote(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes % _PURGE_EVERY == 0
        if due:
            self._purge(conn)

    def _purge(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute(_PURGE_KV, (now,))
        conn.execute(_PURGE_SETS, (now,))
        conn.execute(_PURGE_MESSAGES, (now - _MESSAGE_RETENTION,))

    # -- values ------------------------------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        row = self._one("SELECT value FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)", (key, time.time()))
        return None if row is None else bytes(row[0])  # type: ignore[call-overload]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self.get(key) for key in keys]  # an in-process file: a round trip costs no network

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        expires = None if ttl is None else time.time() + ttl
        self._write(
            "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires",
            (key, bytes(value), expires),
        )

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        now = time.time()
        row = self._write(
            "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
            "WHERE kv.expires IS NOT NULL AND kv.expires <= ? RETURNING 1",
            (key, bytes(value), None if ttl is None else now + ttl, now),
        )
        return row is not None

    def take(self, key: str) -> bytes | None:
        with self._conn() as conn:
            row = conn.execute("DELETE FROM kv WHERE key = ? RETURNING value, expires", (key,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return bytes(row[0])

    def delete(self, key: str) -> bool:
        with self._conn() as conn:
            row = conn.execute("DELETE FROM kv WHERE key = ? RETURNING expires", (key,)).fetchone()
        return row is not None and (row[0] is None or row[0] > time.time())

    def incr(self, key: str, window: float, amount: int = 1) -> int:
        now = time.time()
        row = self._write(
            "INSERT INTO kv (key, value, expires) VALUES (?, CAST(CAST(? AS TEXT) AS BLOB), ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN kv.expires IS NOT NULL AND kv.expires <= ? THEN excluded.value "
            "ELSE CAST(CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) + ? AS TEXT) AS BLOB) END, "
            "expires = CASE WHEN kv.expires IS NOT NULL AND kv.expires <= ? THEN excluded.expires "
            "ELSE kv.expires END RETURNING value",
            (key, amount, now + window, now, amount, now),
        )
        assert row is not None  # an upsert with RETURNING always returns the row
        return int(bytes(row[0]))  # type: ignore[call-overload]

    def ttl(self, key: str) -> float | None:
        now = time.time()
        row = self._one("SELECT expires FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)", (key, now))
        if row is None or row[0] is None:
            return None
        return max(0.0, float(row[0]) - now)  # type: ignore[arg-type]

    # -- sets --------------------------------------------------------------------------------------------------

    def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        now = time.time()
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM sets WHERE key = ? AND expires <= ?", (key, now))
            if ttl is None:
                row = conn.execute("SELECT expires FROM sets WHERE key = ? LIMIT 1", (key,)).fetchone()
                expires = None if row is None else row[0]
            else:
                expires = now + ttl
                conn.execute("UPDATE sets SET expires = ? WHERE key = ?", (expires, key))
            conn.execute(
                "INSERT INTO sets (key, member, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (key, member) DO UPDATE SET expires = excluded.expires",
                (key, member, expires),
            )
            conn.execute("COMMIT")
            self._wrote(conn)

    def smembers(self, key: str) -> frozenset[str]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT member FROM sets WHERE key = ? AND (expires IS NULL OR expires > ?)", (key, time.time())
            )
            return frozenset(str(row[0]) for row in rows)

    def srem(self, key: str, member: str) -> bool:
        with self._conn() as conn:
            row = conn.execute(
                "DELETE FROM sets WHERE key = ? AND member = ? RETURNING expires", (key, member)
            ).fetchone()
        return row is not None and (row[0] is None or row[0] > time.time())

    # -- publish/subscribe -------------------------------------------------------------------------------------

    def publish(self, channel: str, message: bytes) -> None:
        self._write(
            "INSERT INTO messages (channel, body, created) VALUES (?, ?, ?)",
            (channel, bytes(message), time.time()),
        )

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        row = self._one("SELECT COALESCE(MAX(id), 0) FROM messages WHERE ? IS NOT NULL", (channel,))
        after = int(row[0]) if row else 0  # type: ignore[call-overload]
        sub = _Subscription(self, channel, handler, after, on_status)
        sub.set_live(True)  # before the poller can see the subscription: status calls never overlap
        with self._lock:
            self._subs.append(sub)
            if self._poller is None:
                # A fresh event per poller: a handler that closes its own subscription leaves its poller to stop
                # on its own while a later subscribe() starts a new one.
                self._stop = threading.Event()
                self._poller = threading.Thread(
                    target=self._poll, args=(self._stop,), name="authhooks-sqlite-pubsub", daemon=True
                )
                self._poller.start()
        return sub

    def _unsubscribe(self, sub: _Subscription) -> None:
        poller = None
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
            if not self._subs and self._poller is not None:
                poller, self._poller = self._poller, None
                self._stop.set()
        if poller is not None and poller is not threading.current_thread():
            poller.join()

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(self._poll_interval):
            with self._lock:
                subs = list(self._subs)
            if not subs:
                continue
            after = min(sub.after for sub in subs)
            try:
                with self._conn() as conn:
                    rows = conn.execute(
                        "SELECT id, channel, body FROM messages WHERE id > ? ORDER BY id", (after,)
                    ).fetchall()
            except StoreError:
                _log.warning("state store: polling for messages failed; retrying", exc_info=True)
                for sub in subs:
                    sub.set_live(False)
                continue
            for msg_id, channel, body in rows:
                for sub in subs:
                    if sub.channel == channel and msg_id > sub.after and not stop.is_set():
                        try:
                            sub.handler(bytes(body))
                        except Exception:
                            _log.exception("state store: a message handler raised")
            if rows:
                last = int(rows[-1][0])
                for sub in subs:
                    sub.after = max(sub.after, last)
            for sub in subs:
                if not stop.is_set():
                    sub.set_live(True)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._one("SELECT 1 WHERE ? IS NULL", (None,))

    def close(self) -> None:
        with self._lock:
            poller, self._poller = self._poller, None
            self._subs.clear()
            self._stop.set()
            self._closed = True
            conns, self._idle = list(self._all), []
            self._all.clear()
        if poller is not None and poller is not threading.current_thread():
            poller.join()
        for conn in conns:
            conn.close()


class SQLiteStore:
    """The ``sqlite:///path`` backend: a :class:`~authhooks.stores.base.Store` in one file (the default).

    Args:
        path: the database file; parent directories are created.
        timeout: seconds a write waits for another process's lock before raising
            :class:`~authhooks.errors.StoreUnavailableError`.
        poll_interval: seconds between two polls for published messages while someone is subscribed.
        synchronous: ``NORMAL`` (survives a killed process) or ``FULL`` (also survives power loss).
        workers: threads running the blocking calls behind the async API.

    Raises:
        StoreUnavailableError: the file or its directory cannot be created or opened.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        poll_interval: float = 0.05,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        workers: int = 4,
    ) -> None:
        path = Path(path)
        self.url = f"sqlite:///{path}"
        self._sync = _SQLiteSync(path, timeout, poll_interval, synchronous)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="authhooks-sqlite")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"

    @property
    def sync(self) -> _SQLiteSync:
        """The blocking twin of this store."""
        return self._sync

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    async def get(self, key: str) -> bytes | None:
        return await self._run(self._sync.get, key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return await self._run(self._sync.get_many, keys)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        await self._run(self._sync.set, key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return await self._run(self._sync.add, key, value, ttl)

    async def take(self, key: str) -> bytes | None:
        return await self._run(self._sync.take, key)

    async def delete(self, key: str) -> bool:
        return await self._run(self._sync.delete, key)

    async def incr(self, key: str, window: float, amount: int = 1) -> int:
        return await self._run(self._sync.incr, key, window, amount)

    async def ttl(self, key: str) -> float | None:
        return await self._run(self._sync.ttl, key)

    async def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        await self._run(self._sync.sadd, key, member, ttl)

    async def smembers(self, key: str) -> frozenset[str]:
        return await self._run(self._sync.smembers, key)

    async def srem(self, key: str, member: str) -> bool:
        return await self._run(self._sync.srem, key, member)

    async def publish(self, channel: str, message: bytes) -> None:
        await self._run(self._sync.publish, channel, message)

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        """Call ``handler`` (on the poller thread) with each message published on ``channel`` from now on;
        ``on_status`` (see :mod:`authhooks.stores.base`) hears of polls that fail and of the recovery."""
        return self._sync.subscribe(channel, handler, on_status)

    async def ping(self) -> None:
        await self._run(self._sync.ping)

    def close(self) -> None:
        """Stop the poller and the executor, close every connection."""
        self._executor.shutdown(wait=True)
        self._sync.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
