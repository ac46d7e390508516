"""Body parsing of the auth routes: JSON and forms, every refusal precise, never echoing a value."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks.errors import AuthError, InvalidRequest
from authhooks.middleware.bodies import (
    Field,
    PayloadTooLarge,
    UnsupportedMediaType,
    parse_fields,
    read_body,
)

FIELDS = (Field("subject", max_length=16), Field("scheme", required=False, max_length=8))
JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"


def test_json_and_form_give_the_same_fields() -> None:
    expected = {"subject": "alice", "scheme": "ed25519"}
    assert parse_fields(JSON, b'{"subject":"alice","scheme":"ed25519","other":[1]}', FIELDS) == expected
    assert parse_fields(FORM, b"subject=alice&scheme=ed25519&other=1", FIELDS) == expected
    assert parse_fields(b"application/json; charset=UTF-8", b'{"subject":"a"}', FIELDS) == {"subject": "a"}
    assert parse_fields(FORM, b"subject=a+b%2Fc", FIELDS) == {"subject": "a b/c"}


@pytest.mark.parametrize(
    ("content_type", "body", "reason", "names"),
    [
        (JSON, b"\xff\xfe", "malformed_body", ""),
        (JSON, b'{"subject":', "malformed_body", ""),
        (JSON, b'["subject"]', "malformed_body", ""),
        (JSON, b'{"subject":NaN}', "malformed_body", ""),
        (JSON, b"[" * 100000, "malformed_body", ""),
        (JSON, b'{"subject":"a","subject":"b"}', "duplicate_parameter", "`subject`"),
        (JSON, b'{"x":"a","x":"b","subject":"c"}', "duplicate_parameter", ""),
        (JSON, b"{}", "missing_parameter", "`subject`"),
        (JSON, b'{"subject":""}', "missing_parameter", "`subject`"),
        (JSON, b'{"subject":7}', "malformed_parameter", "`subject`"),
        (JSON, b'{"subject":"' + b"a" * 17 + b'"}', "parameter_too_long", "`subject`"),
        (JSON, b'{"subject":"a\\u0000b"}', "malformed_parameter", "`subject`"),
        (FORM, b"subject=a&subject=b", "duplicate_parameter", "`subject`"),
        (FORM, b"subject=%ff", "malformed_body", ""),
        (FORM, "subject=é".encode(), "malformed_body", ""),
        (None, b"", "missing_parameter", "`subject`"),
    ],
)
def test_refusals_are_precise(content_type: bytes | None, body: bytes, reason: str, names: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_fields(content_type, body, FIELDS)
    assert info.value.reason == reason
    assert info.value.status == 400
    assert names in info.value.description
    assert "aaaaaaaaaaaaaaaaa" not in info.value.description


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(b"text/plain", b"subject=a"), (None, b"subject=a"), (b"application/json; charset=latin-1", b"{}")],
)
def test_other_media_types_are_415(content_type: bytes | None, body: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        parse_fields(content_type, body, FIELDS)
    assert info.value.status == 415


@pytest.mark.parametrize("content_type", [b"text/plain", b"application/octet-stream", None])
def test_an_empty_body_is_no_parameters_whatever_its_type(content_type: bytes | None) -> None:
    """wsgiref (Django's runserver) reports a request without Content-Type as text/plain: no body, no parameters."""
    assert parse_fields(content_type, b"", (Field("refresh_token", required=False),)) == {}
    with pytest.raises(InvalidRequest) as info:
        parse_fields(content_type, b"", FIELDS)
    assert info.value.status == 400 and info.value.reason == "missing_parameter"


async def test_read_body_stops_at_the_limit() -> None:
    sent = 0

    async def receive() -> dict[str, object]:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    with pytest.raises(PayloadTooLarge):
        await read_body(receive, 25, None)
    assert sent == 3  # stopped as soon as the limit was passed, never waiting for the end


async def test_read_body_checks_content_length_first() -> None:
    async def receive() -> dict[str, object]:
        raise AssertionError("must not read")

    with pytest.raises(PayloadTooLarge):
        await read_body(receive, 10, b"11")
    with pytest.raises(InvalidRequest):
        await read_body(receive, 10, b"-1")


async def test_read_body_bounds_the_wait() -> None:
    async def receive() -> dict[str, object]:
        import asyncio

        await asyncio.sleep(10)
        return {}

    with pytest.raises(AuthError) as info:
        await read_body(receive, 10, None, timeout=0.05)
    assert info.value.status == 408


@given(st.binary(max_size=200), st.sampled_from([JSON, FORM, None, b"text/plain", b"application/json;charset=x"]))
def test_any_body_parses_or_is_a_4xx(body: bytes, content_type: bytes | None) -> None:
    status = 200
    try:
        parse_fields(content_type, body, FIELDS)
    except AuthError as exc:
        status = exc.status
    assert 200 <= status < 500


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=20) | st.integers() | st.none(), max_size=5))
def test_any_json_object_parses_or_is_a_400(data: dict[str, object]) -> None:
    try:
        result = parse_fields(JSON, json.dumps(data).encode(), FIELDS)
    except InvalidRequest:
        return
    assert result["subject"] == data["subject"]
