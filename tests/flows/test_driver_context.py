"""The drivers make a flow's hook context only when the flow runs with its hook points (issue 15: nothing is
allocated for a bare run), and a hook still sees the request it was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks, Principal, Secret
from authhooks.hooks.context import HookContext
from authhooks.records import RequestInfo

REQUEST = RequestInfo(method="GET", path="/me", client_ip="127.0.0.1")


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[RequestInfo | None]:
    """Every request a hook context was made for."""
    seen: list[RequestInfo | None] = []
    original = HookContext.with_request

    def with_request(self: HookContext, request: RequestInfo | None) -> HookContext:
        seen.append(request)
        return original(self, request)

    monkeypatch.setattr(HookContext, "with_request", with_request)
    return seen


def _auth(tmp_path: Path) -> AuthHooks:
    return AuthHooks(store_url="memory://", secret=Secret("k" * 48), state_dir=tmp_path, telemetry=False)


async def test_a_bare_run_makes_no_hook_context(tmp_path: Path, made: list[RequestInfo | None]) -> None:
    auth = _auth(tmp_path)
    token = (await auth.issue_token("alice")).token
    made.clear()
    assert (await auth.validate_token(token, request=REQUEST)).subject == "alice"  # first seen: the bare variant
    assert auth.sync.validate_token(token, request=REQUEST).subject == "alice"  # cached: the shortcut
    assert made == []
    await auth.aclose()


@pytest.mark.parametrize("api", ["async", "sync"])
async def test_a_hooked_run_gives_its_hooks_the_request(
    tmp_path: Path, made: list[RequestInfo | None], api: str
) -> None:
    auth = _auth(tmp_path)
    heard: list[Any] = []

    def note(principal: Principal, request: RequestInfo | None) -> None:
        heard.append(request)

    auth.add_hook("validate_token.post", note, inline=True)
    token = (await auth.issue_token("alice")).token
    if api == "async":
        await auth.validate_token(token, request=REQUEST)
    else:
        auth.sync.validate_token(token, request=REQUEST)
    assert heard == [REQUEST]
    assert REQUEST in made
    await auth.aclose()
