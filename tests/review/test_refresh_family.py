"""Revoking a refresh family (reuse detected, or logout with the refresh token) must keep every access token of
the family revoked until it expires, also when an ``issue_token.pre`` hook gave it a longer lifetime than
``access_ttl_seconds``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks, InvalidGrant, RevokedToken, Secret


def _auth(tmp_path: Path) -> AuthHooks:
    auth = AuthHooks(
        secret=Secret(b"review-test-secret-0123456789abcdef!!"),
        store_url="memory://",
        state_dir=tmp_path,
        access_ttl_seconds=900,
    )

    @auth.hook("issue_token.pre")
    def long_access_tokens(token_type: str) -> dict[str, Any] | None:
        return {"ttl_seconds": 7200} if token_type == "access" else None

    return auth


async def test_reuse_revokes_long_lived_access_tokens_until_they_expire(tmp_path: Path) -> None:
    auth = _auth(tmp_path)
    pair = await auth.issue_tokens("alice")
    principal = await auth.validate_token(pair.access_token)
    assert principal.expires_at is not None and principal.expires_at - time.time() > 7000
    assert pair.refresh_token is not None
    await auth.refresh_token(pair.refresh_token)
    with pytest.raises(InvalidGrant):
        await auth.refresh_token(pair.refresh_token)  # reuse: the whole family is revoked
    with pytest.raises(RevokedToken):
        await auth.validate_token(pair.access_token)
    remaining = await auth.store.ttl(f"revoked:{principal.jti}")
    assert remaining is not None
    assert remaining >= principal.expires_at - time.time()
    await auth.aclose()


async def test_invalidating_the_refresh_token_revokes_long_lived_access_tokens_until_they_expire(
    tmp_path: Path,
) -> None:
    auth = _auth(tmp_path)
    pair = await auth.issue_tokens("alice")
    principal = await auth.validate_token(pair.access_token)
    assert pair.refresh_token is not None
    assert await auth.invalidate_token(pair.refresh_token)
    remaining = await auth.store.ttl(f"revoked:{principal.jti}")
    assert remaining is not None and principal.expires_at is not None
    assert remaining >= principal.expires_at - time.time()
    await auth.aclose()
