"""Hostile input, generated with hypothesis, against the WSGI driver: any header, path, body or token → a 4xx or the
app's answer, never a 500, never a hang, never an echoed credential; and the app behind keeps working. The tests
are :func:`~._hostile.hostile_requests`; this module gives them the app in process and over a real waitress."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks
from authhooks.middleware import ObservedRoute

from ._hostile import hostile_requests
from ._support import make_auth
from ._wsgi import call_wsgi, environ_for, make_wsgi_app


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


class TestWsgi(hostile_requests()):
    """The hostile-request tests against :class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware`."""
