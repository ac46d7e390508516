"""Hostile input, generated with hypothesis: any header, path, body or token → a 4xx or the app's answer, never a
500, never a hang, never an echoed credential; and the app behind keeps working."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authhooks import AuthHooks
from authhooks.middleware import ObservedRoute

from ._support import Server, bearer, make_app, make_auth

TARGETS = [
    "/api/me",
    "/api/admin",
    "/health",
    "/login",
    "/public/echo",
    "/auth/challenge",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/auth/revoke",
    "/auth/introspect",
    "/auth/jwks.json",
]
HEADER_NAMES = [b"authorization", b"content-type", b"content-length", b"cookie", b"x-any"]
CONTENT_TYPES = [
    b"application/json",
    b"application/x-www-form-urlencoded",
    b"text/plain",
    b"application/json; charset=x",
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

header_value = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(CONTENT_TYPES),
    st.builds(lambda t: b"Bearer " + t, st.binary(max_size=60)),
    st.builds(lambda n: str(n).encode(), st.integers(min_value=-5, max_value=10**7)),
)
body = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda d: __import__("json").dumps(d).encode(), st.dictionaries(st.text(max_size=12), st.text(max_size=30))
    ),
    st.builds(lambda s: s.encode("utf-8", "surrogatepass"), st.text(max_size=200)),
)


class InProcess:
    """One app and one event loop for every example (so the engine's state lives on one loop)."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.auth: AuthHooks = make_auth(tmp_path)
        self.app = make_app(
            self.auth,
            required_scopes={"/api/admin": ["admin"]},
            observe=[ObservedRoute("/login", "POST", flow="login", identifier_field="username")],
            max_body_bytes=1024,
            body_timeout=0.2,
        )
        self.token = self.auth.sync.issue_token("alice", {"scope": "read"}).token

    def call(self, method: str, path: str, headers: list[tuple[bytes, bytes]], content: bytes) -> tuple[int, bytes]:
        return self.loop.run_until_complete(asyncio.wait_for(self._call(method, path, headers, content), 5))

    async def _call(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], content: bytes
    ) -> tuple[int, bytes]:
        chunks = [content[:100], content[100:]]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if chunks:
                return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
            await asyncio.sleep(10)  # a client that stays silent: must not be waited for forever
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogatepass"),
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        await self.app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    def close(self) -> None:
        self.loop.run_until_complete(self.auth.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    harness = InProcess(tmp_path_factory.mktemp("hostile"))
    yield harness
    harness.close()


def _assert_still_works(harness: InProcess) -> None:
    status, content = harness.call("GET", "/api/me", [(b"authorization", b"Bearer " + harness.token.encode())], b"")
    assert status == 200 and b'"identity":"alice"' in content


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    target=st.one_of(st.sampled_from(TARGETS), st.text(max_size=40)),
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=5),
    content=body,
)
def test_generated_requests_never_500_or_hang(
    in_process: InProcess, method: str, target: str, headers: list[tuple[bytes, bytes]], content: bytes
) -> None:
    status, response = in_process.call(method, target, headers, content)
    assert status < 500, (status, response)
    for _, value in headers:
        if value.startswith(b"Bearer ") and len(value) > 16:
            assert value[7:] not in response


@SETTINGS
@given(
    token=st.one_of(
        st.binary(max_size=200), st.from_regex(rb"[A-Za-z0-9_\-]{1,40}(\.[A-Za-z0-9_\-]{0,60}){2}", fullmatch=True)
    )
)
def test_generated_tokens_are_refused_cleanly(in_process: InProcess, token: bytes) -> None:
    status, response = in_process.call("GET", "/api/me", [(b"authorization", b"Bearer " + token)], b"")
    assert status in (400, 401)
    if len(token) > 8:
        assert token not in response


def test_the_app_still_works_after_the_storm(in_process: InProcess) -> None:
    _assert_still_works(in_process)


# -- the same over a real server ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    auth = make_auth(tmp_path_factory.mktemp("hostile-http"))
    token = auth.sync.issue_token("alice", {"scope": "read"}).token
    with Server(make_app(auth, max_body_bytes=1024, body_timeout=0.5)) as srv:
        yield srv, token


printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=60
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    target=st.sampled_from(TARGETS),
    auth_value=st.one_of(st.none(), printable, st.builds(lambda s: "Bearer " + s, printable)),
    content_type=st.one_of(st.none(), st.sampled_from([c.decode() for c in CONTENT_TYPES]), printable),
    content=body,
    path_suffix=st.text(alphabet="abc/%.2eE0F\x00", max_size=12),
)
def test_generated_requests_over_http(
    server: tuple[Server, str],
    target: str,
    auth_value: str | None,
    content_type: str | None,
    content: bytes,
    path_suffix: str,
) -> None:
    srv, _ = server
    headers = {}
    if auth_value is not None:
        headers["authorization"] = auth_value.strip()
    if content_type is not None:
        headers["content-type"] = content_type.strip()
    url = srv.url + target + path_suffix.replace("\x00", "%00")
    with httpx.Client(timeout=5) as http:
        try:
            raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
            r = http.post(url, headers=raw, content=content)
        except httpx.LocalProtocolError:
            return  # the client refused to send it (an illegal header): nothing reached the server
    assert r.status_code < 500


@pytest.mark.slow
def test_server_still_answers_after_the_storm(server: tuple[Server, str]) -> None:
    srv, token = server
    with httpx.Client(timeout=5) as http:
        r = http.get(srv.url + "/api/me", headers=bearer(token))
    assert r.status_code == 200 and r.json()["identity"] == "alice"
