"""The hostile-request tests of ``test_hostile`` against the WSGI driver: any header, path, body or token → a 4xx
or the app's answer, never a 500, never a hang, never an echoed credential; and the app behind keeps working."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authhooks import AuthHooks
from authhooks.middleware import ObservedRoute

from ._support import make_auth
from ._wsgi import call_wsgi, environ_for, make_wsgi_app
from .test_hostile import HEADER_NAMES, SETTINGS, TARGETS, body, header_value


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
