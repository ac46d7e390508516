"""The store contract against ``memory://``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from authhooks.stores import MemoryStore, open_store

from .contract import *  # noqa: F403


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.aclose()


def test_open_store_memory_url() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
