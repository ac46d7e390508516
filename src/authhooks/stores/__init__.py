"""State stores: the :class:`Store` protocol and its backends, chosen by URL with :func:`open_store`."""

from __future__ import annotations

from authhooks.stores.base import MessageHandler, Store, Subscription, SyncStore
from authhooks.stores.factory import open_store
from authhooks.stores.memory import MemoryStore

__all__ = ["MemoryStore", "MessageHandler", "Store", "Subscription", "SyncStore", "open_store"]
