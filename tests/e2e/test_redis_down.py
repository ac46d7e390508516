"""Redis down at run time: the revocation check fails closed within the bounded wait (503, a fault), and
validation recovers when Redis returns. ``store_failure=open`` lets tokens through instead."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware

from ._servers import free_port

pytestmark = pytest.mark.slow

TIMEOUT = 0.3


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                import redis

                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def _me(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.user.identity)


def _app(auth: AuthHooks) -> AuthHooksMiddleware:
    return AuthHooksMiddleware(Starlette(routes=[Route("/me", _me)]), auth=auth, protect=["/me"])


@pytest.mark.parametrize("policy", ["closed", "open"])
async def test_redis_down_then_back(redis_server: RedisServer, tmp_path: Path, policy: str) -> None:
    auth = AuthHooks(
        store_url=f"redis://127.0.0.1:{redis_server.port}/0",
        secret="r" * 48,
        state_dir=tmp_path,
        telemetry=False,
        store_timeout_seconds=TIMEOUT,
        store_failure=policy,
    )
    tokens = [(await auth.issue_token(f"user{i}")).token for i in range(3)]
    transport = httpx.ASGITransport(app=_app(auth))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get("/me", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert ok.status_code == 200
        redis_server.stop()
        started = time.monotonic()
        down = await client.get("/me", headers={"Authorization": f"Bearer {tokens[1]}"})
        elapsed = time.monotonic() - started
        assert elapsed < TIMEOUT * 2 + 1.0
        if policy == "closed":
            assert down.status_code == 503
            assert tokens[1] not in down.text
        else:
            assert down.status_code == 200
        # a token already validated is not served from the cache while Redis is away: the revocation feed is
        # down too, so the cache is bypassed and the token gets the (failing) revocation lookup like any other
        cached = await client.get("/me", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert cached.status_code == (503 if policy == "closed" else 200)
        redis_server.start()
        back = await client.get("/me", headers={"Authorization": f"Bearer {tokens[2]}"})
        assert back.status_code == 200
    await auth.aclose()
