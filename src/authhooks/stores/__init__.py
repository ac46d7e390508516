"""State stores: the :class:`Store` protocol and its backends, chosen by URL with :func:`open_store`.

``RedisStore`` lives in :mod:`authhooks.stores.redis` (imported on demand by :func:`open_store`).
"""

from __future__ import annotations

from authhooks.stores.base import MessageHandler, Store, Subscription, SyncStore
from authhooks.stores.factory import check_store, open_store
from authhooks.stores.memory import MemoryStore
from authhooks.stores.sqlite import SQLiteStore

__all__ = [
    "MemoryStore",
    "MessageHandler",
    "SQLiteStore",
    "Store",
    "Subscription",
    "SyncStore",
    "check_store",
    "open_store",
]
