"""``auth.revoke_subject`` (and the ``revoke_tokens`` action): a per-subject not-before mark in the store refuses
the subject's earlier access tokens and refresh families, its cached tokens are evicted in every instance through
the revocation channel, later tokens are valid; on memory, SQLite and Redis, and across two instances on Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from authhooks.errors import AuthError, InvalidGrant, RevokedToken
from authhooks.tokens.subjects import issued_before_mark, mark_key, new_mark

from .conftest import REDIS_URL, make_auth

START = 1_800_000_000.25


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def test_the_mark_refuses_up_to_the_second_of_the_revocation() -> None:
    mark = new_mark(START)
    assert mark == b"1800000001"
    assert issued_before_mark(1_800_000_000, mark)  # the same second: refused (iat has whole seconds)
    assert not issued_before_mark(1_800_000_001, mark)
    assert issued_before_mark(None, mark) and issued_before_mark("1800000005", mark)  # no numeric iat: refused
    assert not issued_before_mark(None, None)
    assert mark_key("alice") != mark_key("alice ") and len(mark_key("x" * 10_000)) == len(mark_key("a"))


def test_revoke_subject_on_every_store(tmp_path: Path, store_options: dict[str, Any]) -> None:
    clock = Clock()
    auth = make_auth(tmp_path, clock=clock, **store_options)
    try:
        alice, bob = auth.sync.issue_tokens("alice"), auth.sync.issue_tokens("bob")
        lone = auth.sync.issue_token("alice").token  # outside any login
        for token in (alice.access_token, lone, bob.access_token):
            auth.sync.validate_token(token)
            assert auth.tokens.cache.get(token) is not None  # cached: the hit path reads no mark
        auth.sync.revoke_subject("alice")
        assert auth.tokens.cache.get(alice.access_token) is None  # evicted here at once
        for token in (alice.access_token, lone):
            with pytest.raises(RevokedToken):
                auth.sync.validate_token(token)
        with pytest.raises(InvalidGrant) as refused:
            auth.sync.refresh_token(alice.refresh_token)
        assert refused.value.reason == "refresh_token_revoked"
        assert auth.sync.validate_token(bob.access_token).subject == "bob"  # another subject: untouched
        clock.now += 1.0  # the next second: a new login is valid
        again = auth.sync.issue_tokens("alice")
        assert auth.sync.validate_token(again.access_token).subject == "alice"
        assert auth.sync.refresh_token(again.refresh_token).access_token
        assert auth.store.sync.get(mark_key("alice")) == new_mark(START)
    finally:
        auth.close()


async def test_revoke_subject_async(tmp_path: Path, store_options: dict[str, Any]) -> None:
    clock = Clock()
    auth = make_auth(tmp_path, clock=clock, **store_options)
    pair = await auth.issue_tokens("carol")
    await auth.validate_token(pair.access_token)
    await auth.revoke_subject("carol")
    with pytest.raises(RevokedToken):
        await auth.validate_token(pair.access_token)
    with pytest.raises(ValueError):
        await auth.revoke_subject("")
    await auth.aclose()


def test_two_instances_on_redis(tmp_path: Path, redis_prefix: str) -> None:
    clock = Clock()
    options = {"store_url": REDIS_URL, "store_key_prefix": redis_prefix, "clock": clock}
    first, second = make_auth(tmp_path / "a", **options), make_auth(tmp_path / "b", **options)
    try:
        pair = first.sync.issue_tokens("dave")
        other = first.sync.issue_tokens("erin")
        for auth in (first, second):
            for token in (pair.access_token, other.access_token):
                auth.sync.validate_token(token)
                assert auth.tokens.cache.get(token) is not None
        first.sync.revoke_subject("dave")
        assert second.tokens.wait_for_subjects(1, 10), "the revocation never reached the second instance"
        assert second.tokens.cache.get(pair.access_token) is None  # evicted there too
        assert second.tokens.cache.get(other.access_token) is not None  # only that subject's
        with pytest.raises(RevokedToken):
            second.sync.validate_token(pair.access_token)
        with pytest.raises(InvalidGrant):
            second.sync.refresh_token(pair.refresh_token)
    finally:
        first.close()
        second.close()


def test_the_revoke_tokens_action(tmp_path: Path, store_options: dict[str, Any]) -> None:
    """Three failed logins within the window (a lockout's companion): every token of the subject is revoked."""
    spec = {
        "handler": [
            {
                "name": "kill-sessions",
                "event": "login.failed",
                "action": "revoke_tokens",
                "conditions": {"failures": {"count": 2, "window": "1h"}},
            }
        ]
    }
    clock = Clock()
    auth = make_auth(tmp_path, spec, clock=clock, **store_options)

    @auth.hook("login.provide", name="check_password", inline=True)
    def check(subject: str, credentials: Any) -> Any:
        return subject if credentials.get("password") == "right" else False

    try:
        pair = auth.sync.issue_tokens("frank")
        auth.sync.validate_token(pair.access_token)
        for attempt in range(2):
            with pytest.raises(AuthError):
                auth.sync.login("frank", {"password": "wrong"}, scheme="password")
            if attempt == 0:
                assert auth.sync.validate_token(pair.access_token)  # one failure: the condition is false
        with pytest.raises(RevokedToken):
            auth.sync.validate_token(pair.access_token)
    finally:
        auth.close()


def test_revoke_tokens_needs_a_subject(tmp_path: Path) -> None:
    from authhooks.errors import ConfigurationError

    spec = {"handler": [{"name": "r", "event": "request.pre", "action": "revoke_tokens"}]}
    with pytest.raises(ConfigurationError, match="revoke_tokens needs a point with a subject or principal"):
        make_auth(tmp_path, spec)


def test_the_action_under_the_async_api(tmp_path: Path) -> None:
    spec = {"handler": [{"name": "r", "event": "invalidate_token.post", "action": "revoke_tokens"}]}

    async def main() -> None:
        auth = make_auth(tmp_path, spec)
        first, second = await auth.issue_tokens("gina"), await auth.issue_tokens("gina")
        await auth.invalidate_token(first.access_token)  # logout of one login ends every login of the subject
        with pytest.raises(RevokedToken):
            await auth.validate_token(second.access_token)
        await auth.aclose()

    asyncio.run(main())
