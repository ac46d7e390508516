"""Hostile requests on the routes of sign-in, sessions, registered clients and issuer metadata, under the ASGI and
the WSGI driver (hypothesis): bad, missing, repeated, huge or control-character query parameters on
``/auth/oauth/{provider}/start|callback`` (with real pending ``state`` values too), unknown providers, malformed
and oversized cookies, malformed ``Basic`` headers at introspection and revocation, odd methods on the well-known
documents. Never a 5xx, never a hang, never an unescaped input in an HTML page, never an echoed credential; and
the app behind keeps working (product.md §7, §10)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.clients import hash_client_secret
from authhooks.middleware.asgi import AuthHooksMiddleware
from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware
from middleware._hostile import call_asgi
from middleware._wsgi import call_wsgi, environ_for
from oauth._fake_provider import FakeProvider
from oauth.conftest import Clock, make_engine

CLIENT_SECRET = "rs1-secret-Qw3Er5Ty7Ui9"
INJECTED = "<x-inj onload=alert(1)>"
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

PATHS = [
    "/auth/oauth/fake/start",
    "/auth/oauth/fake/callback",
    "/auth/oauth/fake/callback/",
    "/auth/oauth/nope/start",
    "/auth/oauth/nope/callback",
    "/auth/oauth//start",
    "/auth/introspect",
    "/auth/revoke",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/me",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "BREW"]
PARAMS = ["code", "state", "iss", "error", "error_description", "return_to", "session_state"]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from([INJECTED, "//evil.example", "/\\evil.example", "https://evil.example/", "\x00", "\r\nx: y"]),
    st.just("A" * 9000),
)


def _basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


header = st.one_of(
    st.tuples(st.just(b"cookie"), st.binary(max_size=120)),
    st.tuples(st.just(b"cookie"), st.builds(lambda n: b"__Host-authhooks_session=" + b"A" * n, st.integers(0, 9000))),
    st.tuples(st.just(b"cookie"), st.builds(lambda v: b"__Host-authhooks_oauth=" + v, st.binary(max_size=60))),
    st.tuples(st.just(b"authorization"), st.builds(lambda b: b"Basic " + b, st.binary(max_size=80))),
    st.tuples(st.just(b"authorization"), st.builds(_basic, st.binary(max_size=80))),
    st.tuples(st.just(b"authorization"), st.builds(lambda n: _basic(b"rs1:" + b"\xff" * n), st.integers(0, 5000))),
    st.tuples(st.just(b"authorization"), st.just(_basic(b"rs1" + CLIENT_SECRET.encode()))),  # no colon
    st.tuples(st.sampled_from([b"origin", b"sec-fetch-site", b"x-csrf-token", b"host"]), st.binary(max_size=60)),
    st.tuples(st.just(b"content-type"), st.sampled_from([b"application/x-www-form-urlencoded", b"text/plain"])),
)


class Harness:
    """One engine (the fake provider, a registered client, sessions) behind both drivers; every request must
    answer within 5 s."""

    def __init__(self, tmp_path: Path) -> None:
        self.fake = FakeProvider()
        settings = {
            "secret": "hostile-routes-hmac-secret-0123456789abcdef",
            "issuer": "https://app.test",
            "clients": (f"rs1:{hash_client_secret(CLIENT_SECRET, iterations=100_000)}",),
            "session_paths": ("/me",),
            "bearer_paths": ("/api/**",),
        }
        self.auth: AuthHooks = make_engine(tmp_path, self.fake, Clock(), settings=settings)
        self.loop = asyncio.new_event_loop()

        async def me(request: Request) -> JSONResponse:
            return JSONResponse({"subject": request.user.display_name})

        def wsgi_me(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            principal = environ.get(PRINCIPAL_KEY)
            data = json.dumps({"subject": principal.subject if principal else None}).encode()
            start_response("200 OK", [("content-type", "application/json")])
            return [data]

        starlette = Starlette(routes=[Route("/me", me, methods=["GET", "POST"])])
        self.asgi = AuthHooksMiddleware(starlette, auth=self.auth, protect=["/me", "/api/**"], body_timeout=0.5)
        self.wsgi = AuthHooksWSGIMiddleware(wsgi_me, auth=self.auth, protect=["/me", "/api/**"])
        self.pool = concurrent.futures.ThreadPoolExecutor(1)
        self.states = [self._start() for _ in range(3)]

    def _start(self) -> str:
        status, headers, _ = self.call("asgi", "GET", "/auth/oauth/fake/start", b"", [])
        assert status == 302, status
        location = dict(headers)[b"location"].decode()
        return parse_qs(urlsplit(location).query)["state"][0]

    def call(
        self, driver: str, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if driver == "wsgi":
            environ = environ_for(method, quote(path).encode(), headers, body, query=query)
            environ["wsgi.url_scheme"], environ["SERVER_NAME"], environ["SERVER_PORT"] = "https", "app.test", "443"
            return self.pool.submit(call_wsgi, self.wsgi, environ).result(timeout=5)
        return self.loop.run_until_complete(asyncio.wait_for(self._asgi(method, path, query, headers, body), 5))

    async def _asgi(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": quote(path).encode(),
            "root_path": "",
            "query_string": query,
            "headers": [(b"host", b"app.test"), *headers],
            "client": ("127.0.0.1", 1234),
            "server": ("app.test", 443),
        }
        return await call_asgi(self.asgi, scope, [body])

    def close(self) -> None:
        self.pool.shutdown()
        self.wsgi.close()
        self.loop.run_until_complete(self.auth.aclose(timeout=2.0))
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    h = Harness(tmp_path_factory.mktemp("hostile-routes"))
    yield h
    h.close()


@st.composite
def queries(draw: st.DrawFn, states: list[str]) -> bytes:
    """A query string: raw bytes, or name=value pairs (repeated names, real pending states, hostile values)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(PARAMS), st.one_of(hostile_text, st.sampled_from(states))), max_size=5)
    )
    encode = draw(st.sampled_from(["quote", "raw"]))
    parts = []
    for name, value in pairs:
        text = quote(value, safe="") if encode == "quote" else value
        parts.append(f"{name}={text}".encode("utf-8", "surrogatepass"))
    return b"&".join(parts)


def _check(status: int, headers: list[tuple[bytes, bytes]], content: bytes, sent: list[tuple[bytes, bytes]]) -> None:
    assert status < 500 or status in (502, 503), (status, content[:300])
    assert status != 500, content[:300]
    assert INJECTED.encode() not in content, "an input is reflected unescaped"
    for name, value in headers:
        assert b"\r" not in value and b"\n" not in value, (name, value)
        if name == b"location":
            assert value.startswith((b"/", b"https://idp.test/")) and not value.startswith(b"//"), value
    for name, value in sent:
        if name == b"authorization" and len(value) > 12:
            assert value[6:] not in content, "a refused credential is echoed"


@pytest.mark.parametrize("driver", ["asgi", "wsgi"])
def test_hostile_requests_on_the_new_routes(harness: Harness, driver: str) -> None:
    @SETTINGS
    @given(
        method=st.sampled_from(METHODS),
        path=st.sampled_from(PATHS),
        data=st.data(),
        headers=st.lists(header, max_size=4),
        body=st.binary(max_size=200),
    )
    def run(method: str, path: str, data: st.DataObject, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        query = data.draw(queries(harness.states))
        status, answer_headers, content = harness.call(driver, method, path, query, headers, body)
        _check(status, answer_headers, content, headers)

    run()
    status, _, content = harness.call(driver, "GET", "/.well-known/openid-configuration", b"", [])
    assert status == 200 and json.loads(content)["issuer"] == "https://app.test"
