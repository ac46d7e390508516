"""The HS* verifier (prepared RFC 2104 states) agrees with hmac.digest for every key length around the block."""

from __future__ import annotations

import hmac
import os

import pytest

from authhooks.tokens._algorithms import ALGORITHMS, make_verifier


@pytest.mark.parametrize(
    ("alg", "name", "block"), [("HS256", "sha256", 64), ("HS384", "sha384", 128), ("HS512", "sha512", 128)]
)
def test_hmac_verifier_matches_hmac_digest(alg: str, name: str, block: int) -> None:
    for size in (1, 31, 32, block - 1, block, block + 1, 2 * block + 7):
        key = os.urandom(size)
        verify = make_verifier(ALGORITHMS[alg], key)
        for msg in (b"", b"a", os.urandom(block - 1), os.urandom(block), os.urandom(3 * block + 5)):
            sig = hmac.digest(key, msg, name)
            assert verify(msg, sig)
            assert verify(msg, sig)  # the prepared states are copied, never consumed
            assert not verify(msg, sig[:-1] + bytes([sig[-1] ^ 1]))
            assert not verify(msg + b"x", sig)
            assert not verify(msg, sig[:-1])
            assert not verify(msg, hmac.digest(key + b"k", msg, name))  # another key


def test_rfc_4231_case_2() -> None:
    verify = make_verifier(ALGORITHMS["HS256"], b"Jefe")
    expected = bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert verify(b"what do ya want for nothing?", expected)
