"""A webhook receiver cannot make authhooks read without bound or wander off: a decision answer larger than
``MAX_ANSWER_BYTES`` is a failed delivery (before, all of it was read and obeyed), an answer trickled byte by byte
past the attempt's timeout is a failed attempt (before, each read restarted the timeout), and a redirect to another
host is never followed. Under the async and the sync API, against a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks
from authhooks.errors import HookFailed

SECRET_ENV = "REVIEW_WEBHOOK_SECRET"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DENY = json.dumps({"deny": {"status": 403, "reason": "receiver_says_no"}}).encode()


class Server:
    """``/big`` (a deny padded to 256 KiB, past the 64 KiB limit), ``/drip`` (a deny, one byte every 50 ms),
    ``/redirect`` (307 to ``/elsewhere`` on a second server, which counts its hits)."""

    def __init__(self) -> None:
        self.elsewhere_hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                path = self.path.split("?")[0]
                if path == "/elsewhere":
                    outer.elsewhere_hits += 1
                    self._send(200, DENY)
                elif path == "/big":
                    self._send(200, DENY + b" " * (256 * 1024))
                elif path == "/redirect":
                    self.send_response(307)
                    self.send_header("location", f"{outer.other}/elsewhere")
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif path == "/drip":
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(DENY)))
                    self.end_headers()
                    try:
                        for byte in DENY:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:
                        pass

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url, self.other = (f"http://127.0.0.1:{s.server_address[1]}" for s in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    s = Server()
    yield s
    s.stop()


def _auth(tmp_path: Path, url: str, timeout: float = 5.0) -> AuthHooks:
    options = {"url": url, "secret_env": SECRET_ENV, "decision": True, "retries": 0, "timeout": timeout}
    handler = {"name": "gate", "event": "challenge.pre", "action": "webhook", "options": options}
    return AuthHooks(secret="w" * 64, store_url="memory://", state_dir=tmp_path, telemetry=False,
                     handlers={"handler": [handler]})  # fmt: skip


async def _challenge(auth: AuthHooks, api: str) -> None:
    if api == "async":
        await auth.generate_challenge("frank")
    else:
        await asyncio.to_thread(auth.sync.generate_challenge, "frank")


@pytest.mark.parametrize("api", ["async", "sync"])
async def test_an_oversized_decision_answer_is_a_failure_not_obeyed(tmp_path: Path, server: Server, api: str) -> None:
    auth = _auth(tmp_path, f"{server.url}/big")
    with pytest.raises(HookFailed):
        await _challenge(auth, api)
    await auth.aclose()


@pytest.mark.parametrize("api", ["async", "sync"])
async def test_a_trickled_answer_is_bounded_by_the_attempt_timeout(tmp_path: Path, server: Server, api: str) -> None:
    auth = _auth(tmp_path, f"{server.url}/drip", timeout=0.5)  # the whole answer takes ~3 s
    with pytest.raises(HookFailed):
        await _challenge(auth, api)
    await auth.aclose()


async def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path, server: Server) -> None:
    auth = _auth(tmp_path, f"{server.url}/redirect")
    with pytest.raises(HookFailed):
        await auth.generate_challenge("frank")
    with pytest.raises(HookFailed):
        await asyncio.to_thread(auth.sync.generate_challenge, "frank")
    assert server.elsewhere_hits == 0
    await auth.aclose()
