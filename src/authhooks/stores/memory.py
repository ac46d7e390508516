"""``memory://``: an in-process store for tests and single-process apps (nothing survives a restart).

Thread-safe (one lock); expired entries are dropped when read and swept every few thousand writes, so memory
stays bounded by what is live.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Sequence

from authhooks.stores.base import MessageHandler, StatusHandler, Subscription

__all__ = ["MemoryStore"]

_SWEEP_EVERY = 4096
_log = logging.getLogger("authhooks.stores")


class _Subscription:
    """In-process delivery never has a gap: live from ``subscribe`` until ``close``."""

    __slots__ = ("_channel", "_handler", "_store", "live")

    def __init__(self, store: _MemorySync, channel: str, handler: MessageHandler) -> None:
        self._store, self._channel, self._handler = store, channel, handler
        self.live = True

    def close(self) -> None:
        self.live = False
        self._store._unsubscribe(self._channel, self._handler)


class _MemorySync:
    """The blocking operations of :class:`MemoryStore` (see :class:`~authhooks.stores.base.SyncStore`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._sets: dict[str, tuple[builtins.set[str], float | None]] = {}
        self._handlers: dict[str, list[MessageHandler]] = {}
        self._writes = 0

    def _deadline(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def _live(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry[0]

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            for k in [k for k, (_, d) in self._values.items() if d is not None and d <= now]:
                del self._values[k]
            for k in [k for k, (_, d) in self._sets.items() if d is not None and d <= now]:
                del self._sets[k]

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            if not any(map(self._values.__contains__, keys)):  # the common case (nothing revoked), in C
                return [None] * len(keys)
            return [self._live(key) for key in keys]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._lock:
            self._values[key] = (bytes(value), self._deadline(ttl))
            self._wrote()

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (bytes(value), self._deadline(ttl))
            self._wrote()
            return True

    def take(self, key: str) -> bytes | None:
        with self._lock:
            value = self._live(key)
            if value is not None:
                del self._values[key]
            return value

    def delete(self, key: str) -> bool:
        with self._lock:
            existed = self._live(key) is not None
            self._values.pop(key, None)
            return existed

    def incr(self, key: str, window: float, amount: int = 1) -> int:
        with self._lock:
            current = self._live(key)
            if current is None:
                count, deadline = amount, self._deadline(window)
            else:
                count, deadline = int(current) + amount, self._values[key][1]
            self._values[key] = (str(count).encode(), deadline)
            self._wrote()
            return count

    def ttl(self, key: str) -> float | None:
        with self._lock:
            if self._live(key) is None:
                return None
            deadline = self._values[key][1]
            return None if deadline is None else max(0.0, deadline - self._clock())

    def _live_set(self, key: str) -> builtins.set[str] | None:
        entry = self._sets.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._sets[key]
            return None
        return entry[0]

    def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        with self._lock:
            members = self._live_set(key)
            deadline = self._sets[key][1] if members is not None else None
            if members is None:
                members = set()
            members.add(member)
            self._sets[key] = (members, self._deadline(ttl) if ttl is not None else deadline)
            self._wrote()

    def smembers(self, key: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._live_set(key) or ())

    def srem(self, key: str, member: str) -> bool:
        with self._lock:
            members = self._live_set(key)
            if not members or member not in members:
                return False
            members.discard(member)
            return True

    def publish(self, channel: str, message: bytes) -> None:
        with self._lock:
            handlers = list(self._handlers.get(channel, ()))
        for handler in handlers:
            try:
                handler(bytes(message))
            except Exception:
                # As in the other backends: a failing subscriber never fails the publisher or other subscribers.
                _log.exception("state store: a message handler raised")

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        with self._lock:
            self._handlers.setdefault(channel, []).append(handler)
        if on_status is not None:
            try:
                on_status(True)
            except Exception:
                _log.exception("state store: a subscription status handler raised")
        return _Subscription(self, channel, handler)

    def _unsubscribe(self, channel: str, handler: MessageHandler) -> None:
        with self._lock:
            handlers = self._handlers.get(channel, [])
            if handler in handlers:
                handlers.remove(handler)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._handlers.clear()


class MemoryStore:
    """The ``memory://`` backend: a :class:`~authhooks.stores.base.Store` held in this process.

    Args:
        clock: a monotonic clock, replaceable in tests to move time.
    """

    url = "memory://"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._sync = _MemorySync(clock)

    @property
    def sync(self) -> _MemorySync:
        """The blocking twin of this store."""
        return self._sync

    async def get(self, key: str) -> bytes | None:
        return self._sync.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._sync.get_many(keys)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._sync.set(key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        return self._sync.add(key, value, ttl)

    async def take(self, key: str) -> bytes | None:
        return self._sync.take(key)

    async def delete(self, key: str) -> bool:
        return self._sync.delete(key)

    async def incr(self, key: str, window: float, amount: int = 1) -> int:
        return self._sync.incr(key, window, amount)

    async def ttl(self, key: str) -> float | None:
        return self._sync.ttl(key)

    async def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        self._sync.sadd(key, member, ttl)

    async def smembers(self, key: str) -> frozenset[str]:
        return self._sync.smembers(key)

    async def srem(self, key: str, member: str) -> bool:
        return self._sync.srem(key, member)

    async def publish(self, channel: str, message: bytes) -> None:
        self._sync.publish(channel, message)

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        return self._sync.subscribe(channel, handler, on_status)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._sync.close()
