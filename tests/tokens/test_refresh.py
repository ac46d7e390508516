"""Refresh-token helpers."""

from __future__ import annotations

import hashlib
import re

import pytest

from authhooks.tokens import RefreshRecord, hash_refresh_token, new_refresh_token


def test_new_refresh_token_is_prefixed_256_bit_base64url() -> None:
    tokens = {new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert re.fullmatch(r"ahr_[A-Za-z0-9_-]{43}", token)


def test_hash_is_sha256_hex() -> None:
    assert hash_refresh_token("ahr_x") == hashlib.sha256(b"ahr_x").hexdigest()
    assert hash_refresh_token("ahr_x") != hash_refresh_token("ahr_y")


def test_record_round_trip() -> None:
    record = RefreshRecord("fam", "alice", {"scope": "read"}, 10.0, 20.0)
    again = RefreshRecord.from_bytes(record.to_bytes())
    assert again == record
    assert again.state == "active"
    rotated = again.rotated()
    assert rotated.state == "rotated"
    assert RefreshRecord.from_bytes(rotated.to_bytes()).state == "rotated"


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"family_id":1,"subject":"a"}',
        b'{"family_id":"f","subject":"a","state":"x","issued_at":1,"expires_at":2}',
        b'{"family_id":"f","subject":"a","state":"active","issued_at":true,"expires_at":2}',
    ],
)
def test_record_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ValueError):
        RefreshRecord.from_bytes(data)
