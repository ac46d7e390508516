"""The hostile-request tests of ``test_hostile`` against the WSGI driver, in process and over a real waitress: any
header, path, body or token → a 4xx or the app's answer, never a 500, never a hang, never an echoed credential;
and the app behind keeps working."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authhooks import AuthHooks
from authhooks.middleware import ObservedRoute

from ._support import make_auth
from ._wsgi import call_wsgi, environ_for, make_wsgi_app
from .test_hostile import CONTENT_TYPES, HEADER_NAMES, SETTINGS, TARGETS, body, header_value, printable


class InProcess:
    """One WSGI app; every request runs on a worker thread and must answer within 5 s."""

    def __init__(self, tmp_path: Path) -> None:
        self.auth: AuthHooks = make_auth(tmp_path)
        self.app = make_wsgi_app(
            self.auth,
            required_scopes={"/api/admin": ["admin"]},
            observe=[ObservedRoute("/login", "POST", flow="login", identifier_field="username")],
            max_body_bytes=1024,
        )
        self.token = self.auth.sync.issue_token("alice", {"scope": "read"}).token
        self.pool = concurrent.futures.ThreadPoolExecutor(1)

    def call(self, method: str, path: str, headers: list[tuple[bytes, bytes]], content: bytes) -> tuple[int, bytes]:
        environ = environ_for(method, path.encode("utf-8", "surrogatepass"), headers, content)
        status, _, response = self.pool.submit(call_wsgi, self.app, environ).result(timeout=5)
        return status, response

    def close(self) -> None:
        self.pool.shutdown()
        self.app.close()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    harness = InProcess(tmp_path_factory.mktemp("hostile-wsgi"))
    yield harness
    harness.close()


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
    status, content = in_process.call(
        "GET", "/api/me", [(b"authorization", b"Bearer " + in_process.token.encode())], b""
    )
    assert status == 200 and b'"identity":"alice"' in content


# -- the same over a real server (waitress, in a thread) -------------------------------------------------------------


class Waitress:
    """A real waitress server on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: Any) -> None:
        from waitress import create_server

        self._server: Any = create_server(app, host="127.0.0.1", port=0, threads=4, channel_timeout=5)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Waitress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._server.task_dispatcher.shutdown()
        self._thread.join(10)
        assert not self._thread.is_alive(), "waitress did not stop"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Waitress, str]]:
    auth = make_auth(tmp_path_factory.mktemp("hostile-waitress"))
    token = auth.sync.issue_token("alice", {"scope": "read"}).token
    app = make_wsgi_app(auth, max_body_bytes=1024)
    with Waitress(app) as srv:
        yield srv, token
    app.close()


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
    server: tuple[Waitress, str],
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
def test_server_still_answers_after_the_storm(server: tuple[Waitress, str]) -> None:
    srv, token = server
    with httpx.Client(timeout=5) as http:
        r = http.get(srv.url + "/api/me", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["identity"] == "alice"
