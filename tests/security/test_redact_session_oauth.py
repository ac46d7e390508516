"""The redactor (:func:`authhooks._redact.scrub`) masks the credentials of sign-in and sessions: ``ahs_`` session
ids, ``whsec_`` webhook secrets, and the ``code``/``state``/``code_verifier``/``nonce`` of a callback URL — which
a server span's ``http.url``/``url.query`` carries (the ASGI/WSGI instrumentation's request hook scrubs them) —
while prose such as ``state=open`` stays readable. Property tests over generated values (a class of secrets, not
examples)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks._redact import scrub
from authhooks.sessions import new_session_id
from authhooks.telemetry.asgi import redact_server_span

URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
secret_value = st.text(alphabet=URLSAFE, min_size=16, max_size=64)
around = st.sampled_from(["", " ", "cookie ", "id=", "'", '"', "(", "[", ": "])


@given(before=around, after=around, body=st.text(alphabet=URLSAFE, min_size=43, max_size=43))
def test_session_ids_are_masked_anywhere(before: str, after: str, body: str) -> None:
    session_id = "ahs_" + body
    assert session_id not in scrub(f"{before}{session_id}{after}")
    fresh = new_session_id()
    assert fresh not in scrub(f"__Host-authhooks_session={fresh}; theme=dark")


@given(secret=st.text(alphabet=URLSAFE[:62] + "+/=", min_size=24, max_size=64))
def test_webhook_secrets_are_masked(secret: str) -> None:
    assert secret not in scrub(f"signing with whsec_{secret} now")


@given(
    code=secret_value,
    state=secret_value,
    extra=st.lists(st.tuples(st.sampled_from(["session_state", "nonce"]), secret_value), max_size=2),
    order=st.booleans(),
)
def test_callback_parameters_are_masked_in_urls_and_queries(
    code: str, state: str, extra: list[tuple[str, str]], order: bool
) -> None:
    pairs = [("code", code), ("iss", "https://idp.test"), ("state", state), ("scope", "openid"), *extra]
    query = urlencode(pairs[::-1] if order else pairs)
    url = f"https://app.test/auth/oauth/fake/callback?{query}"
    for text in (url, query, f"GET {url} HTTP/1.1"):
        masked = scrub(text)
        assert code not in masked and state not in masked, masked
        assert all(value not in masked for _, value in extra)
        assert "iss=https" in masked and "scope=openid" in masked


@given(verifier=secret_value)
def test_form_bodies_and_json_with_a_verifier_are_masked(verifier: str) -> None:
    assert verifier not in scrub(f"grant_type=authorization_code&code_verifier={verifier}&code=x")
    assert verifier not in scrub(f'{{"code_verifier": "{verifier}"}}')
    assert verifier not in scrub(f"csrf_token={verifier}")


@pytest.mark.parametrize(
    "prose", ["breaker state=open", "status_code=200", "error code: 5", "a state machine", "the code path"]
)
def test_prose_stays_readable(prose: str) -> None:
    assert scrub(prose) == prose


class _Span:
    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value


@given(code=secret_value, state=secret_value)
def test_the_server_span_of_a_callback_holds_no_code_or_state(code: str, state: str) -> None:
    query = f"code={code}&state={state}&iss=https%3A%2F%2Fidp.test"
    span = _Span(
        {
            "http.url": f"https://app.test/auth/oauth/fake/callback?{query}",
            "http.target": f"/auth/oauth/fake/callback?{query}",
            "url.query": query,
        }
    )
    redact_server_span(span, {"query_string": query.encode()})
    text = repr(span.attributes)
    assert code not in text and state not in text


def test_a_log_line_quoting_a_session_cookie_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    session_id = new_session_id()
    with caplog.at_level(logging.INFO, logger="authhooks.test"):
        logging.getLogger("authhooks.test").info("request with cookie %s", f"__Host-authhooks_session={session_id}")
    assert session_id not in caplog.text
