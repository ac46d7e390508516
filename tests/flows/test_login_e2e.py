"""End to end through the plain API: challenge → sign with a fresh Ed25519 key → authenticate → validate →
refresh → invalidate → the token is refused as revoked. Async and sync, memory and SQLite stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authhooks import InvalidGrant, RevokedToken
from flows._identity import b64u, make_auth


def _fresh_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return key, b64u(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _url(store: str, tmp_path: Path) -> str:
    return "memory://" if store == "memory" else f"sqlite:///{tmp_path}/s.db"


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_login_lifecycle_async(tmp_path: Path, store: str) -> None:
    auth = make_auth(tmp_path, store_url=_url(store, tmp_path))
    key, subject = _fresh_key()
    challenge = await auth.generate_challenge(subject)
    signature = b64u(key.sign(challenge.message.encode()))
    pair = await auth.authenticate(subject, challenge.nonce, signature)

    principal = await auth.validate_token(pair.access_token)
    assert principal.subject == subject

    assert pair.refresh_token is not None
    rotated = await auth.refresh_token(pair.refresh_token)
    assert (await auth.validate_token(rotated.access_token)).subject == subject
    with pytest.raises(InvalidGrant):  # the old refresh token was rotated away
        await auth.refresh_token(pair.refresh_token)

    fresh = await auth.authenticate(subject, *(await _answer(auth, key, subject)))
    assert await auth.invalidate_token(fresh.access_token) is True
    with pytest.raises(RevokedToken) as info:
        await auth.validate_token(fresh.access_token)
    assert info.value.reason == "token_revoked"
    await auth.aclose()


async def _answer(auth: object, key: Ed25519PrivateKey, subject: str) -> tuple[str, str]:
    challenge = await auth.generate_challenge(subject)  # type: ignore[attr-defined]
    return challenge.nonce, b64u(key.sign(challenge.message.encode()))


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_login_lifecycle_sync(tmp_path: Path, store: str) -> None:
    auth = make_auth(tmp_path, store_url=_url(store, tmp_path))
    key, subject = _fresh_key()
    challenge = auth.sync.generate_challenge(subject)
    pair = auth.sync.authenticate(subject, challenge.message, b64u(key.sign(challenge.message.encode())))
    assert auth.sync.validate_token(pair.access_token).subject == subject
    rotated = auth.sync.refresh_token(pair.refresh_token)
    assert auth.sync.validate_token(rotated.access_token).subject == subject
    assert auth.sync.invalidate_token(rotated.access_token) is True
    with pytest.raises(RevokedToken):
        auth.sync.validate_token(rotated.access_token)
    auth.close()
