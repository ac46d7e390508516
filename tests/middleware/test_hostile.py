"""Hostile input, generated with hypothesis, against the ASGI driver: any header, path, body or token → a 4xx or the
app's answer, never a 500, never a hang, never an echoed credential; and the app behind keeps working. The tests
are :func:`~._hostile.hostile_requests`; this module gives them the app in process and over a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from authhooks import AuthHooks
from authhooks.middleware import ObservedRoute

from ._hostile import call_asgi, hostile_requests
from ._support import Server, make_app, make_auth


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
        call = call_asgi(self.app, scope, [content[:100], content[100:]])
        status, _, response = self.loop.run_until_complete(asyncio.wait_for(call, 5))
        return status, response

    def close(self) -> None:
        self.loop.run_until_complete(self.auth.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    harness = InProcess(tmp_path_factory.mktemp("hostile"))
    yield harness
    harness.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    auth = make_auth(tmp_path_factory.mktemp("hostile-http"))
    token = auth.sync.issue_token("alice", {"scope": "read"}).token
    with Server(make_app(auth, max_body_bytes=1024, body_timeout=0.5)) as srv:
        yield srv, token


class TestAsgi(hostile_requests()):
    """The hostile-request tests against :class:`~authhooks.middleware.asgi.AuthHooksMiddleware`."""
