"""The WSGI middleware under real servers: gunicorn (sync workers, 2 processes; one SQLite file, then one Redis)
and waitress, on 127.0.0.1. The whole login → protected → refresh → logout flow with ``examples/client.py``, and a
token revoked through one worker refused by the other."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from _redis import REDIS_URL, require_redis

from ._servers import ROOT, KeyHolder, child_env, free_port, stop_process, wait_until_answering

pytestmark = pytest.mark.slow

APP = "tests.e2e.wsgi_instance_app:create_app"


class WSGIServer:
    """A gunicorn or waitress process serving :data:`APP` on a free port."""

    def __init__(self, kind: str, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bind = f"127.0.0.1:{self.port}"
        if kind == "gunicorn":
            args = ["-m", "gunicorn", "-w", "2", "-k", "sync", "-b", bind, "--graceful-timeout", "5", f"{APP}()"]
        else:
            args = ["-m", "waitress", f"--listen={bind}", "--threads=4", "--call", APP]
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait(self, timeout: float = 20.0) -> WSGIServer:
        if wait_until_answering(self.proc, f"{self.url}/auth/jwks.json", timeout):
            return self
        if self.proc.poll() is not None:
            raise RuntimeError(self.stderr())
        raise RuntimeError(f"the server did not start in {timeout}s: {self.stderr()}")

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None or self.proc.stderr.closed:
            return ""
        return self.proc.stderr.read().decode()[-3000:]

    def stop(self) -> str:
        """Stop gracefully (SIGTERM) and return what the server wrote to stderr."""
        stop_process(self.proc, grace=20)
        stream = self.proc.stderr
        if stream is None or stream.closed:
            return ""
        err = stream.read().decode()
        stream.close()
        return err


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[WSGIServer]]:
    started: list[WSGIServer] = []
    yield started
    for server in started:
        server.stop()


def run_client(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client.py"), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _redis_env() -> dict[str, str]:
    require_redis()
    return {"AUTHHOOKS_STORE_URL": REDIS_URL, "AUTHHOOKS_STORE_KEY_PREFIX": f"wsgi-{uuid.uuid4().hex[:8]}:"}


def _workers_seen(client: httpx.Client, url: str, headers: dict[str, str], want: int = 2) -> dict[str, int]:
    """GET /me until ``want`` workers answered; their pid → the status each gave.

    Sequential requests may all land on one sync worker (the kernel wakes the last idle acceptor; a loaded
    machine may still be booting the other), so each request is made while another connection holds a worker
    busy reading an unfinished request: the request must then be answered by another worker."""
    seen: dict[str, int] = {}
    host, port = httpx.URL(url).host, httpx.URL(url).port
    deadline = time.monotonic() + 60
    while len(seen) < want:
        assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered in 60 s"
        with socket.create_connection((host, port or 80), timeout=30) as hold:
            hold.sendall(b"GET /me HTTP/1.1\r\nHost: x\r\n")  # a worker accepts it and waits for the rest
            r = client.get(f"{url}/me", headers={**headers, "Connection": "close"}, timeout=30)
        seen.setdefault(r.headers["x-worker"], r.status_code)
    return seen


def _store_env(store: str, tmp_path: Path) -> dict[str, str]:
    env = {"AUTHHOOKS_STATE_DIR": str(tmp_path), "AUTHHOOKS_TELEMETRY": "false"}
    if store == "sqlite":
        env["AUTHHOOKS_STORE_URL"] = f"sqlite:///{tmp_path}/state.sqlite3"
    else:
        env.update(_redis_env())
    return env


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_gunicorn_two_sync_workers_serve_the_client_flow(serve: list[WSGIServer], tmp_path: Path, store: str) -> None:
    """examples/client.py: login, /me, refresh, /me, logout, then /me refused at once. Its requests land on either
    worker; the validated-token cache is off here because the client checks the refusal immediately after the
    logout, and a worker that cached the token learns of the revocation only through the store's notification
    (the next test measures that path)."""
    server = WSGIServer("gunicorn", {**_store_env(store, tmp_path), "AUTHHOOKS_TOKEN_CACHE_SIZE": "0"})
    serve.append(server)
    server.wait()
    result = run_client(server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all steps answered as expected" in result.stdout
    assert "Traceback" not in server.stop()


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_gunicorn_revocation_in_one_worker_is_refused_by_the_other(
    serve: list[WSGIServer], tmp_path: Path, store: str
) -> None:
    """With the cache on: both workers validate (and cache) the token; a logout in one; within the store's
    notification delay (SQLite polling every 50 ms, Redis pub/sub) every worker refuses it."""
    server = WSGIServer("gunicorn", _store_env(store, tmp_path))
    serve.append(server)
    server.wait()
    bob = KeyHolder()
    with httpx.Client(timeout=5) as client:
        tokens = bob.login(client, server.url, bob.challenge(client, server.url).json()).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert set(_workers_seen(client, server.url, bearer).values()) == {200}  # validated (and cached) by both
        logout = client.post(f"{server.url}/auth/logout", headers={**bearer, "Connection": "close"})
        assert logout.status_code == 204
        revoked_by = logout.headers["x-worker"]
        deadline = time.monotonic() + 5.0
        while True:
            seen = _workers_seen(client, server.url, bearer)
            if set(seen.values()) == {401} or time.monotonic() > deadline:
                break
        assert revoked_by in seen and set(seen.values()) == {401}, seen
    assert "Traceback" not in server.stop()


def test_waitress_serves_the_whole_flow(serve: list[WSGIServer], tmp_path: Path) -> None:
    server = WSGIServer("waitress", {"AUTHHOOKS_STATE_DIR": str(tmp_path), "AUTHHOOKS_TELEMETRY": "false"})
    serve.append(server)
    server.wait()
    result = run_client(server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", result.stdout) is None  # never a whole token
    with httpx.Client(timeout=5) as client:
        r = client.get(f"{server.url}/admin", headers={"Authorization": "Bearer not.a.token"})
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
