"""Fixtures for the token layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tokenkit import _RSA, make_key, policy

from authhooks.tokens import Key, KeySet, TokenValidator


@pytest.fixture(scope="session")
def rsa_private() -> rsa.RSAPrivateKey:
    return _RSA


@pytest.fixture
def hs_key() -> Key:
    return make_key("HS256", kid="hs")


@pytest.fixture
def rs_key() -> Key:
    return make_key("RS256", kid="rs")


@pytest.fixture
def validator_for() -> Callable[..., TokenValidator]:
    def build(*keys: Key, **overrides: Any) -> TokenValidator:
        return TokenValidator(KeySet(keys), policy(**overrides))

    return build


@pytest.fixture
def wall_clock() -> float:
    return time.time()
