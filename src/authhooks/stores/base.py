"""The ``Store`` protocol: the one way flows keep state (challenges, revocations, refresh families, counters).

A backend offers the async methods below and, under ``store.sync``, the same methods as blocking calls for the
WSGI driver. Keys and channels are ``str``; values and messages are ``bytes``. TTLs are seconds (``float``);
``None`` means no expiry. Backends: ``memory://`` (one process), ``sqlite:///path`` (the embedded default: one
machine, several processes), ``redis://host:port/db`` (several machines).

Publish/subscribe is at-most-once: a subscriber whose connection to the backend drops misses what is published
until it is back. So that a consumer can tell (the validated-token cache must not trust a revocation feed with a
hole in it), ``subscribe`` takes an optional ``on_status`` callback: ``on_status(True)`` once delivery is live
(from within ``subscribe`` when the backend answers), ``on_status(False)`` as soon as the backend knows delivery
stopped (messages published from then on may never arrive), ``on_status(True)`` again when it has resumed. Calls
come from one thread at a time and alternate, starting with ``True``.

Every backend must pass ``tests/stores/contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from authhooks.errors import ConfigurationError

__all__ = ["AsyncStoreOps", "MessageHandler", "StatusHandler", "Store", "Subscription", "SyncStore", "check_store"]

MessageHandler = Callable[[bytes], None]
"""Called with each message published on a subscribed channel (possibly from another thread)."""

StatusHandler = Callable[[bool], None]
"""Called with ``True`` when a subscription's delivery is live and ``False`` when it stopped (a gap begins)."""


@runtime_checkable
class Subscription(Protocol):
    """A subscription; ``close()`` stops delivery."""

    @property
    def live(self) -> bool:
        """Whether delivery is known to be continuous now (``False`` during a gap and after ``close()``)."""

    def close(self) -> None:
        """Stop delivering messages to the handler."""


class SyncStore(Protocol):
    """The blocking twin of :class:`Store`'s operations."""

    def get(self, key: str) -> bytes | None:
        """Return the value, or ``None`` when absent or expired."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Return each key's value (``None`` when absent or expired), in order, in one round trip."""

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value, expiring after ``ttl`` seconds."""

    def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent (atomic); return whether it was stored."""

    def take(self, key: str) -> bytes | None:
        """Atomically return and delete the value: of concurrent callers, exactly one gets it."""

    def delete(self, key: str) -> bool:
        """Delete ``key``; return whether it existed."""

    def incr(self, key: str, window: float, amount: int = 1) -> int:
        """Add ``amount`` to a counter and return the new value (atomic). The counter starts at 0 and expires
        ``window`` seconds after the increment that created it (a fixed window)."""

    def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires; ``None`` when it has no expiry or does not exist."""

    def sadd(self, key: str, member: str, ttl: float | None = None) -> None:
        """Add ``member`` to the set at ``key``; ``ttl`` (when given) resets the set's expiry."""

    def smembers(self, key: str) -> frozenset[str]:
        """The members of the set at ``key`` (empty when absent or expired)."""

    def srem(self, key: str, member: str) -> bool:
        """Remove ``member``; return whether it was there."""

    def publish(self, channel: str, message: bytes) -> None:
        """Deliver ``message`` to every subscriber of ``channel`` (in every process sharing the backend)."""

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        """Call ``handler`` with every message published on ``channel`` from now on; ``on_status`` learns when
        delivery is live and when it has a gap (see the module docstring)."""

    def ping(self) -> None:
        """Raise :class:`~authhooks.errors.StoreUnavailableError` when the backend cannot be reached."""

    def close(self) -> None:
        """Release connections and background threads."""


class AsyncStoreOps(Protocol):
    """The async operations of a :class:`Store`; same contracts as :class:`SyncStore`."""

    async def get(self, key: str) -> bytes | None: ...
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...
    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...
    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool: ...
    async def take(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> bool: ...
    async def incr(self, key: str, window: float, amount: int = 1) -> int: ...
    async def ttl(self, key: str) -> float | None: ...
    async def sadd(self, key: str, member: str, ttl: float | None = None) -> None: ...
    async def smembers(self, key: str) -> frozenset[str]: ...
    async def srem(self, key: str, member: str) -> bool: ...
    async def publish(self, channel: str, message: bytes) -> None: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


@runtime_checkable
class Store(AsyncStoreOps, Protocol):
    """A state store: async operations, ``sync`` for their blocking twins, and ``subscribe``.

    Attributes:
        url: the URL it was built from, with any password masked.
        sync: the blocking operations, for the WSGI driver.
    """

    url: str

    @property
    def sync(self) -> SyncStore:
        """The blocking twin of this store."""

    def subscribe(self, channel: str, handler: MessageHandler, on_status: StatusHandler | None = None) -> Subscription:
        """Call ``handler`` with every message published on ``channel``; delivery may happen on another thread.
        ``on_status`` learns when delivery is live and when it has a gap (see the module docstring)."""


def _operations(protocol: type) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_") and callable(vars(protocol)[name])]


def check_store(store: object) -> None:
    """Raise :class:`~authhooks.errors.ConfigurationError` naming every operation ``store`` (as passed to
    ``AuthHooks(store=...)``) lacks, async or in its ``sync`` twin: said once at construction, not as a failed
    request later (a store written for an older protocol may lack ``get_many``, say)."""
    missing = [
        f"{name}()" for name in [*_operations(AsyncStoreOps), "subscribe"] if not callable(getattr(store, name, None))
    ]
    sync = getattr(store, "sync", None)
    missing += [f"sync.{name}()" for name in _operations(SyncStore) if not callable(getattr(sync, name, None))]
    if missing:
        raise ConfigurationError(
            f"store: {type(store).__name__} lacks {', '.join(missing)} (see authhooks.stores.Store)"
        )
