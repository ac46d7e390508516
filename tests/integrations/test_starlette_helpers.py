"""The Starlette helpers: reading the middleware's scope state and the challenge headers of a rejection."""

from __future__ import annotations

import pytest

from authhooks.errors import Deny, ExpiredToken, InsufficientScope, MissingCredentials
from authhooks.events import Principal
from authhooks.integrations.starlette import (
    auth_of,
    challenge_headers,
    principal_of,
    request_info_of,
    require_principal,
)

ALICE = Principal("alice")


def test_principal_of_reads_the_middleware_state_from_a_raw_scope() -> None:
    assert principal_of({"authhooks": {"principal": ALICE, "auth": None}}) is ALICE
    assert principal_of({"authhooks": {"principal": None}}) is None
    assert principal_of({}) is None
    assert principal_of({"authhooks": "garbage"}) is None
    assert auth_of({}) is None
    assert request_info_of({"authhooks": {"request": "not a RequestInfo"}}) is None


def test_require_principal_raises_missing_credentials_for_anonymous() -> None:
    assert require_principal({"authhooks": {"principal": ALICE}}) is ALICE
    with pytest.raises(MissingCredentials):
        require_principal({"authhooks": {"principal": None}})


def test_challenge_headers_follow_rfc_6750() -> None:
    assert challenge_headers(MissingCredentials(), "api")["www-authenticate"] == 'Bearer realm="api"'
    expired = challenge_headers(ExpiredToken(), "api")["www-authenticate"]
    assert expired == 'Bearer realm="api", error="invalid_token", error_description="The access token expired."'
    scope = challenge_headers(InsufficientScope(required_scopes=("admin", "write")), "api")["www-authenticate"]
    assert scope.endswith(', scope="admin write"')
    assert challenge_headers(ExpiredToken(), "api")["cache-control"] == "no-store"


def test_a_hook_denial_keeps_its_headers_and_a_401_gets_a_challenge() -> None:
    limited = challenge_headers(Deny(status=429, headers={"Retry-After": "5"}), "api")
    assert limited["retry-after"] == "5"
    assert "www-authenticate" not in limited
    assert challenge_headers(Deny(status=401), "api")["www-authenticate"] == 'Bearer realm="api"'
