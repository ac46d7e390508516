"""The tests' one rule for Redis: the server at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/15``, db 15 so no
real data is touched), each test under its own key prefix, removed afterwards. When no Redis answers the test is
skipped, except under ``CI=true``, where that fails: CI must not pass by skipping."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from authhooks.stores._url import mask_url

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis() -> str:
    """``REDIS_URL`` once a Redis answers a PING there (1 s timeouts); otherwise skip the test, or fail it under
    ``CI=true``. The reason names the URL with any password masked."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        reason = f"no Redis answers at REDIS_URL={mask_url(REDIS_URL)} ({type(exc).__name__})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires one")
        pytest.skip(reason)
    finally:
        client.close()
    return REDIS_URL


def remove_keys(prefix: str) -> None:
    """Delete every key under ``prefix`` on ``REDIS_URL``."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def redis_prefix(label: str = "authhooks-test") -> Iterator[str]:
    """After :func:`require_redis`, a unique key prefix ``"<label>:<hex>:"``, its keys removed on exit."""
    require_redis()
    prefix = f"{label}:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        remove_keys(prefix)
