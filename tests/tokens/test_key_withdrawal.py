"""The validated-token cache and key withdrawal (issue 13): entries are filed under the key that verified them; a
key that leaves the issuer's JWKS (or the local key set) evicts its entries at once, in every instance sharing
the store (two ``AuthHooks`` on Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tokenkit import make_key

from _redis import REDIS_URL, redis_prefix
from authhooks import AuthHooks
from authhooks.errors import UnknownKey
from authhooks.records import Principal
from authhooks.tokens import Key, ValidatedTokenCache
from authhooks.tokens.service import KEY_EVICTION_PREFIX, REVOCATION_CHANNEL

JWKS_URL = "https://idp.example/keys"


class Idp:
    def __init__(self, *keys: Key) -> None:
        self.keys = list(keys)

    def handle(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [dict(k.public_jwk or {}) for k in self.keys]})


def _token(key: Key, sub: str = "alice") -> str:
    from tokenkit import forge

    now = int(time.time())
    return forge(
        key,
        {"alg": key.algorithms[0], "typ": "at+jwt", "kid": key.kid},
        {"sub": sub, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex},
    )


def _auth(tmp_path: Path, idp: Idp, **options: Any) -> AuthHooks:
    values: dict[str, Any] = {
        "store_url": "memory://",
        "state_dir": tmp_path,
        "telemetry": False,
        "jwks_url": JWKS_URL,
        "jwks_refetch_cooldown_seconds": 0,
    }
    values.update(options)
    return AuthHooks(http_client=httpx.MockTransport(idp.handle), **values)


def _rotate(auth: AuthHooks, idp: Idp, new: Key) -> None:
    """The issuer replaces its key; a token with the new kid makes this instance refetch (in the background)."""
    idp.keys = [new]
    with pytest.raises(UnknownKey):  # answered from the cached set while the refetch runs
        auth.sync.validate_token(_token(new, "probe"))
    remote = auth.tokens.remote
    assert remote is not None and remote.wait_for_fetch_sync(5)
    assert new.kid in (remote.keyset or ())


def test_cache_files_entries_under_their_key() -> None:
    cache = ValidatedTokenCache(10, clock=lambda: 1000.0)
    alice = Principal("alice", {"exp": 2000, "jti": "a"})
    bob = Principal("bob", {"exp": 2000, "jti": "b"})
    cache.put("t-alice", alice, key="K1")
    cache.put("t-bob", bob, key="K2")
    assert cache.drop_key("K1") == 1
    assert cache.get("t-alice") is None and cache.get("t-bob") is bob
    epoch = cache.epoch  # a validation by K2 in flight while K2 is withdrawn is not cached
    assert cache.drop_key("K2") == 1
    cache.put("t-bob", bob, epoch, key="K2")
    assert cache.get("t-bob") is None and len(cache) == 0


def test_a_key_leaving_the_jwks_evicts_its_cached_tokens(tmp_path: Path) -> None:
    old, new = make_key("ES256", kid="old"), make_key("ES256", kid="new")
    idp = Idp(old)
    auth = _auth(tmp_path, idp)
    try:
        token = _token(old)
        assert auth.sync.validate_token(token).subject == "alice"
        assert auth.tokens.cache.get(token) is not None
        _rotate(auth, idp, new)
        assert auth.tokens.cache.get(token) is None
        with pytest.raises(UnknownKey):
            auth.sync.validate_token(token)
        assert auth.sync.validate_token(_token(new, "bob")).subject == "bob"
    finally:
        auth.close()


def test_replacing_local_keys_evicts_the_withdrawn_keys_tokens(tmp_path: Path) -> None:
    a, b = make_key("HS256", kid="a"), Key.from_secret(b"x" * 32, kid="b")
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, secret="k" * 32)
    try:
        auth.tokens.replace_local_keys([a, b])
        token_a, token_b = _token(a), _token(b, "bob")
        auth.sync.validate_token(token_a)
        auth.sync.validate_token(token_b)
        auth.tokens.replace_local_keys([b])
        assert auth.tokens.cache.get(token_a) is None and auth.tokens.cache.get(token_b) is not None
        with pytest.raises(UnknownKey):
            auth.sync.validate_token(token_a)
        assert auth.sync.validate_token(auth.sync.issue_token("carol").token).subject == "carol"  # signing key kept
    finally:
        auth.close()


# -- two instances sharing a Redis store ----------------------------------------------------------------------------


@pytest.fixture
def redis_store_url() -> Iterator[str]:
    with redis_prefix() as prefix:
        joiner = "&" if "?" in REDIS_URL else "?"
        yield f"{REDIS_URL}{joiner}prefix={prefix}"


def test_a_rotation_seen_by_one_instance_evicts_in_every_instance(tmp_path: Path, redis_store_url: str) -> None:
    old, new = make_key("RS256", kid="old"), make_key("ES256", kid="new")
    idp = Idp(old)
    first = _auth(tmp_path / "a", idp, store_url=redis_store_url)
    second = _auth(tmp_path / "b", idp, store_url=redis_store_url)
    try:
        token = _token(old)
        for auth in (first, second):
            assert auth.sync.validate_token(token).subject == "alice"
            assert auth.tokens.cache.get(token) is not None
        _rotate(first, idp, new)  # only the first instance refetches
        assert second.tokens.wait_for_evictions(1, 10), "the withdrawal never reached the second instance"
        assert second.tokens.cache.get(token) is None
        assert second.tokens.remote is not None and "old" not in (second.tokens.remote.keyset or ())
        with pytest.raises(UnknownKey):  # not even re-validated: the second instance stopped trusting the key
            second.sync.validate_token(token)
        assert second.tokens.remote.wait_for_fetch_sync(5)  # that refusal found the set due and refetched it
        assert second.sync.validate_token(_token(new, "bob")).subject == "bob"
    finally:
        first.close()
        second.close()


def test_eviction_messages_ride_the_revocation_channel(tmp_path: Path) -> None:
    key = make_key("ES256", kid="k")
    auth = _auth(tmp_path, Idp(key))
    try:
        token = _token(key)
        auth.sync.validate_token(token)
        auth.store.sync.publish(REVOCATION_CHANNEL, KEY_EVICTION_PREFIX + b"not-a-thumbprint!! " + b"x" * 43)
        assert auth.tokens.wait_for_evictions(1, 5)
        assert auth.tokens.cache.get(token) is not None  # nothing of this key
        auth.store.sync.publish(REVOCATION_CHANNEL, KEY_EVICTION_PREFIX + key.thumbprint.encode())
        assert auth.tokens.wait_for_evictions(2, 5)
        assert auth.tokens.cache.get(token) is None
    finally:
        auth.close()
