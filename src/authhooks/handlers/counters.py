"""The state handlers keep in the store: failure counters, locks, last successful logins, rate-limit windows.

Everything goes through the one :class:`~authhooks.stores.Store` protocol, so on ``redis://`` every instance of
the application shares it (a rate limit is global, a lock holds everywhere); on ``memory://`` it is per process.
Counters use the store's atomic fixed-window ``incr``; a window's remaining time is the counter key's ``ttl``.
Keys (under the store's own prefix) start with ``handlers:``.

Each operation has a blocking form (``*_sync``, ``store.sync``: the sync driver) and an async one (the async
driver, on the event loop).
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "failure_key",
    "last_auth_key",
    "lock_key",
    "lockout_key",
    "rate_key",
    "read_count",
    "read_count_sync",
    "read_time",
    "read_time_sync",
]


def _part(value: str) -> str:
    # Subjects may be long (public keys) or hold the separator: keys carry a digest, fixed length, no ':'.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def failure_key(by: str, window: float, value: str) -> str:
    """The counter of failures of one subject or IP within a fixed ``window``."""
    return f"handlers:failures:{by}:{int(window)}:{_part(value)}"


def lock_key(subject: str) -> str:
    """Present while ``subject``'s logins are refused by a lockout."""
    return f"handlers:lock:{_part(subject)}"


def lockout_key(handler: str, subject: str) -> str:
    """The failure counter of one lockout handler for one subject."""
    return f"handlers:lockout:{handler}:{_part(subject)}"


def last_auth_key(subject: str) -> str:
    """The Unix time of ``subject``'s last successful login."""
    return f"handlers:last_auth:{_part(subject)}"


def rate_key(handler: str, parts: tuple[str, ...]) -> str:
    """The request counter of one rate-limit handler for one key (IP, subject, route…)."""
    return f"handlers:rate:{handler}:{_part(chr(31).join(parts))}"


def _count(raw: bytes | None) -> int:
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _time(raw: bytes | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def read_count_sync(store: Any, key: str) -> int:
    """The current value of the counter at ``key`` (0 when absent or expired)."""
    return _count(store.sync.get(key))


async def read_count(store: Any, key: str) -> int:
    """The async twin of :func:`read_count_sync`."""
    return _count(await store.get(key))


def read_time_sync(store: Any, key: str) -> float | None:
    """The Unix time stored at ``key``, or ``None``."""
    return _time(store.sync.get(key))


async def read_time(store: Any, key: str) -> float | None:
    """The async twin of :func:`read_time_sync`."""
    return _time(await store.get(key))
