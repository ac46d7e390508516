"""Denial rendering: RFC 6750 §3 challenges, RFC 6749 §5.2 and RFC 9457 bodies, Deny responses, faults."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks.errors import (
    Deny,
    ExpiredToken,
    HookFailed,
    InsufficientScope,
    InvalidRequest,
    KeySetUnavailableError,
    MissingCredentials,
    StoreUnavailableError,
)
from authhooks.middleware.responses import Prepared, Responses, quote


def headers(response: Prepared) -> dict[str, str]:
    return {k.decode(): v.decode("latin-1") for k, v in response.headers}


def test_bare_challenge_has_no_error_and_no_body() -> None:
    r = Responses("example").error(MissingCredentials())
    h = headers(r)
    assert r.status == 401
    assert h["www-authenticate"] == 'Bearer realm="example"'
    assert h["cache-control"] == "no-store"
    assert r.body == b""
    assert h["content-length"] == "0"


def test_invalid_token_challenge_and_body() -> None:
    r = Responses("example").error(ExpiredToken())
    h = headers(r)
    assert r.status == 401
    assert h["www-authenticate"] == (
        'Bearer realm="example", error="invalid_token", error_description="The access token expired."'
    )
    assert json.loads(r.body) == {"error": "invalid_token", "error_description": "The access token expired."}
    assert h["content-type"] == "application/json"


def test_insufficient_scope_names_the_scopes() -> None:
    r = Responses("x").error(InsufficientScope(required_scopes=("admin", "write")))
    assert r.status == 403
    assert 'error="insufficient_scope"' in headers(r)["www-authenticate"]
    assert headers(r)["www-authenticate"].endswith(', scope="admin write"')


def test_invalid_request_is_400_with_challenge() -> None:
    r = Responses("x").error(InvalidRequest("Bad header."))
    assert r.status == 400
    assert 'error="invalid_request"' in headers(r)["www-authenticate"]


def test_realm_is_a_quoted_string_and_descriptions_are_restricted() -> None:
    assert quote('a"b\\c\r\n') == '"a\\"b\\\\c"'
    r = Responses('my "realm"').error(ExpiredToken('quote " back \\ slash \r\n é'))
    value = headers(r)["www-authenticate"]
    assert value.startswith('Bearer realm="my \\"realm\\""')
    description = re.search(r'error_description="([^"]*)"', value)
    assert description is not None
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]*", description.group(1))


def test_problem_json_bodies() -> None:
    responses = Responses("x", "problem+json")
    r = responses.error(ExpiredToken())
    doc = json.loads(r.body)
    assert headers(r)["content-type"] == "application/problem+json"
    assert doc == {
        "type": "urn:authhooks:problem:invalid_token",
        "title": "Invalid token",
        "status": 401,
        "detail": "The access token expired.",
        "error": "invalid_token",
        "reason": "token_expired",
    }
    bare = json.loads(responses.error(MissingCredentials()).body)
    assert bare["status"] == 401 and "error" not in bare and bare["reason"] == "missing_credentials"
    assert headers(responses.error(MissingCredentials()))["www-authenticate"] == 'Bearer realm="x"'


def test_deny_with_headers_and_each_body_kind() -> None:
    responses = Responses("x")
    r = responses.deny(Deny(429, "rate_limited", {"Retry-After": "30"}, {"error": "slow_down"}))
    assert r.status == 429 and headers(r)["retry-after"] == "30"
    assert json.loads(r.body) == {"error": "slow_down"}
    assert responses.deny(Deny(403, body=b"\x00raw")).body == b"\x00raw"
    text = responses.deny(Deny(403, body="nope"))
    assert text.body == b"nope" and headers(text)["content-type"].startswith("text/plain")
    default = json.loads(responses.deny(Deny(reason="blocked", description="Blocked.")).body)
    assert default == {"error": "access_denied", "error_description": "Blocked."}


def test_deny_401_gets_a_challenge_and_bad_headers_are_dropped() -> None:
    r = Responses("x").deny(Deny(401, headers={"X-Ok": "1", "X-Bad": "a\r\nSet-Cookie: x", "Content-Length": "9"}))
    h = headers(r)
    assert h["www-authenticate"] == 'Bearer realm="x"'
    assert h["x-ok"] == "1" and "x-bad" not in h and "set-cookie" not in h
    assert h["content-length"] == str(len(r.body))


def test_unserialisable_deny_body_falls_back_to_the_default() -> None:
    r = Responses("x").deny(Deny(403, body={"when": object()}))
    assert json.loads(r.body)["error"] == "access_denied"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (KeySetUnavailableError("jwks down at https://internal/secret"), 503),
        (StoreUnavailableError("redis://:password@host"), 503),
        (HookFailed("my_hook", RuntimeError("boom eyJhbGciOi")), 503),
        (RuntimeError("eyJhbGciOiJIUzI1NiJ9.secret"), 500),
    ],
)
def test_faults_are_generic(exc: BaseException, status: int) -> None:
    r = Responses("x").for_exception(exc)
    assert r.status == status
    for leak in (b"secret", b"internal", b"redis", b"my_hook", b"RuntimeError", b"Traceback"):
        assert leak not in r.body
    assert b"eyJ" not in r.body and b"password" not in r.body and b"boom" not in r.body
    assert "www-authenticate" not in headers(r)


@given(st.text(max_size=80), st.text(max_size=80), st.lists(st.text(max_size=10), max_size=3))
def test_any_text_renders_a_valid_header(realm: str, description: str, scopes: list[str]) -> None:
    r = Responses(realm).error(InsufficientScope(description, required_scopes=tuple(scopes)))
    for _, value in r.headers:
        assert b"\r" not in value and b"\n" not in value and b"\x00" not in value
    json.loads(r.body)
