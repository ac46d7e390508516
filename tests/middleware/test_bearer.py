"""The Authorization header parser (RFC 6750 §2.1) — every refusal precise, never an unexpected exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks.errors import AuthError, InvalidRequest, MissingCredentials
from authhooks.middleware.bearer import parse_authorization


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (b"Bearer abc.def.ghi", "abc.def.ghi"),
        (b"bearer abc", "abc"),
        (b"BEARER abc", "abc"),
        (b"Bearer   abc", "abc"),
        (b"Bearer abc==", "abc=="),
        (b"Bearer a-b_c~d+e/f", "a-b_c~d+e/f"),
        (b"Bearer abc  ", "abc"),
    ],
)
def test_well_formed_bearer(value: bytes, token: str) -> None:
    assert parse_authorization([value]) == token


def test_no_header_is_none() -> None:
    assert parse_authorization([]) is None


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([b"Bearer a", b"Bearer b"], "duplicate_header"),
        ([b""], "malformed_header"),
        ([b"   "], "malformed_header"),
        ([b"Bearer"], "empty_token"),
        ([b"Bearer   "], "empty_token"),
        ([b"Bearer a b"], "two_credentials"),
        ([b"Bearer a, Bearer b"], "two_credentials"),
        ([b"Bearer a=b"], "malformed_token"),
        ([b'Bearer a"b'], "malformed_token"),
        ([b"Bearer caf\xc3\xa9"], "malformed_header"),
        ([b"Bearer a\x00b"], "malformed_header"),
        ([b"Bearer\tabc"], "malformed_header"),
        ([b"Bearerabc"], "malformed_header"),
    ],
)
def test_malformed_is_invalid_request(values: list[bytes], reason: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_authorization(values)
    assert info.value.reason == reason
    assert info.value.status == 400


@pytest.mark.parametrize("value", [b"Basic dXNlcjpwYXNz", b"Digest x=y", b"Token abc", b"DPoP abc"])
def test_other_schemes_are_missing_credentials(value: bytes) -> None:
    with pytest.raises(MissingCredentials) as info:
        parse_authorization([value])
    assert info.value.reason == "unsupported_scheme"
    assert info.value.error is None


FIXED_DESCRIPTIONS = {
    "The Authorization header carries more than one credential.",
    "The Authorization header contains invalid characters.",
    "The Authorization header is empty.",
    "The Authorization header is malformed.",
    "The Bearer token has characters RFC 6750 does not allow.",
    "The Bearer token is empty.",
    "The request carries more than one Authorization header.",
    MissingCredentials.default_description,
}


@given(st.lists(st.binary(max_size=64), max_size=3))
def test_any_bytes_give_a_token_or_an_auth_error(values: list[bytes]) -> None:
    error: AuthError | None = None
    token: str | None = None
    try:
        token = parse_authorization(values)
    except AuthError as exc:
        error = exc
    if error is not None:
        assert error.status in (400, 401)
        assert error.description in FIXED_DESCRIPTIONS  # never built from the input
    else:
        assert token is None or (token.isascii() and " " not in token)


@given(st.from_regex(r"[A-Za-z0-9\-._~+/]+=*", fullmatch=True))
def test_every_b64token_is_accepted(token: str) -> None:
    assert parse_authorization([b"Bearer " + token.encode()]) == token
