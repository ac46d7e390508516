"""Child-process bodies for the SQLite multi-process tests (importable under the ``spawn`` start method)."""

from __future__ import annotations

import os
import signal
from multiprocessing.synchronize import Barrier
from pathlib import Path

from authhooks.stores.sqlite import SQLiteStore


def take_all(path: str, keys: list[str], barrier: Barrier, out: str) -> None:
    """Race for every key; write the keys this process won to ``out``, one per line."""
    store = SQLiteStore(path)
    try:
        barrier.wait(timeout=30)
        won = [key for key in keys if store.sync.take(key) is not None]
        store.sync.publish("done", str(os.getpid()).encode())
    finally:
        store.close()
    Path(out).write_text("\n".join(won))


def write_then_die(path: str, how: str) -> None:
    """Write one value and die at once after the call returns, without any clean-up."""
    store = SQLiteStore(path)
    store.sync.set("durable", b"survives")
    store.sync.incr("counter", 60, amount=3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)
