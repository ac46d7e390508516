"""Fixtures of the handler tests: a real ``AuthHooks`` (HS256) on the memory, SQLite or Redis store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _redis import REDIS_URL
from _redis import redis_prefix as _redis_prefix
from authhooks import AuthHooks, Secret

from .receiver import Receiver

SECRET = Secret(b"handlers-test-secret-0123456789abcdef")
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def make_auth(tmp_path: Path, handlers: Any = None, **overrides: Any) -> AuthHooks:
    """A real engine: HS256, the memory store unless ``store_url`` says otherwise, state under ``tmp_path``."""
    options: dict[str, Any] = {"secret": SECRET, "store_url": "memory://", "state_dir": tmp_path, **overrides}
    return AuthHooks(handlers=handlers, **options)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix on the test Redis (db 15), removed afterwards (the rule of tests/_redis.py)."""
    with _redis_prefix() as prefix:
        yield prefix


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook :class:`~handlers.receiver.Receiver` checking ``WEBHOOK_SECRET``; its URL as ``.url``."""
    r = Receiver(WEBHOOK_SECRET)
    r.url = r.start()  # type: ignore[attr-defined]
    yield r
    r.stop()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_options(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """``AuthHooks`` keywords for each store backend."""
    if request.param == "memory":
        return {"store_url": "memory://"}
    if request.param == "sqlite":
        return {"store_url": f"sqlite:///{tmp_path / 'state.db'}"}
    prefix = request.getfixturevalue("redis_prefix")
    return {"store_url": REDIS_URL, "store_key_prefix": prefix}


def write(tmp_path: Path, text: str, name: str = "handlers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
