"""Fixtures for the middleware tests: a real engine per test and real tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks

from ._support import Issue, make_auth


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = make_auth(tmp_path)
    yield engine
    await engine.aclose()


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> str:
    """The middleware driver a parametrized behaviour test runs against: the same inputs, the same answers."""
    return str(request.param)


@pytest.fixture
def issue(auth: AuthHooks) -> Issue:
    """``await issue("alice", "read admin")`` → a real access token with those scopes."""

    async def make(subject: str = "alice", scope: str = "read", **claims: Any) -> str:
        if scope:
            claims["scope"] = scope
        issued = await auth.issue_token(subject, claims)
        return issued.token

    return make
