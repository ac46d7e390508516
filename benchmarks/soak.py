"""A bounded soak: memory must stay flat once every cache and queue has filled.

Run: ``python benchmarks/soak.py`` (``--requests``, ``--distinct-tokens``, ``--login-every``, ``--report-every``).
One ``AuthHooksMiddleware`` in process (HS256, the embedded SQLite store in a temporary directory, telemetry off,
the default 10,000-entry validated-token cache) is driven directly through ASGI — no HTTP client, no server — with
a mix a busy service sees:

- protected requests with ``--distinct-tokens`` different valid tokens in rotation (more than the cache holds,
  so the cache fills and then evicts);
- every ``--login-every`` requests a whole login: challenge, Ed25519 signature, login, refresh, logout (each
  login adds challenges, refresh families and revocations to the store);
- a request with a malformed token and one without a token in every hundred.

It prints the resident set size (``VmRSS``) at intervals, then ``rss_growth_after_warmup=<MB>``: the growth from the
end of the warm-up (the first third of the requests, when the caches are full) to the end. Flat means a growth
within noise (a few MB: the allocator keeps freed arenas). A non-2xx/401/400 answer makes it exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks, Secret
from authhooks.middleware import AuthHooksMiddleware


def rss_mb() -> float:
    """The current resident set size of this process in MB (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Client:
    """Direct ASGI calls: a request in, (status, body) out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(
        self, method: str, path: str, token: str | None = None, body: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        headers = [(b"host", b"soak")]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        payload = json.dumps(body).encode() if body is not None else b""
        if body is not None:
            headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(payload)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 5000),
            "server": ("soak", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        status, chunks = 0, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def login_cycle(client: Client) -> None:
    """Challenge, sign, login, call, refresh, logout: one whole login through the built-in routes."""
    key = Ed25519PrivateKey.generate()
    subject = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    status, body = await client.request("POST", "/auth/challenge", body={"subject": subject})
    expect(status, 200, "challenge")
    challenge = json.loads(body)
    signature = b64url(key.sign(challenge["message"].encode()))
    status, body = await client.request(
        "POST", "/auth/login", body={"subject": subject, "challenge": challenge["nonce"], "signature": signature}
    )
    expect(status, 200, "login")
    tokens = json.loads(body)
    status, body = await client.request("POST", "/auth/refresh", body={"refresh_token": tokens["refresh_token"]})
    expect(status, 200, "refresh")
    fresh = json.loads(body)
    expect((await client.request("GET", "/api/data", fresh["access_token"]))[0], 200, "protected")
    expect((await client.request("POST", "/auth/logout", fresh["access_token"]))[0], 204, "logout")
    expect((await client.request("GET", "/api/data", fresh["access_token"]))[0], 401, "after logout")


def expect(status: int, wanted: int, what: str) -> None:
    if status != wanted:
        raise SystemExit(f"soak: {what} answered {status}, expected {wanted}")


async def soak(args: argparse.Namespace, workdir: Path) -> float:
    auth = AuthHooks(
        secret=Secret("soak-benchmark-secret-" + "s" * 42),
        state_dir=workdir,
        telemetry=False,
    )

    async def data(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = AuthHooksMiddleware(Starlette(routes=[Route("/api/data", data)]), auth=auth, protect=["/api/**"])
    client = Client(app)
    tokens = [(await auth.issue_token(f"user{i}", {"scope": "read"})).token for i in range(args.distinct_tokens)]
    warmup_end = args.requests // 3
    at_warmup = 0.0
    start = time.perf_counter()
    print(f"start rss={rss_mb():.1f} MB tokens={len(tokens)} requests={args.requests}", flush=True)
    for i in range(args.requests):
        if i % 100 == 99:
            expect((await client.request("GET", "/api/data", "not.a.token"))[0], 401, "malformed token")
            expect((await client.request("GET", "/api/data"))[0], 401, "no token")
        elif i % args.login_every == args.login_every - 1:
            await login_cycle(client)
        else:
            expect((await client.request("GET", "/api/data", tokens[i % len(tokens)]))[0], 200, "protected")
        if i + 1 == warmup_end:
            gc.collect()
            at_warmup = rss_mb()
            print(f"warm-up done at {i + 1} requests: rss={at_warmup:.1f} MB", flush=True)
        if (i + 1) % args.report_every == 0:
            elapsed = time.perf_counter() - start
            print(f"requests={i + 1} rss={rss_mb():.1f} MB elapsed={elapsed:.1f}s", flush=True)
    gc.collect()
    end = rss_mb()
    await auth.aclose()
    return end - at_warmup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=150_000)
    parser.add_argument("--distinct-tokens", type=int, default=15_000)
    parser.add_argument("--login-every", type=int, default=50)
    parser.add_argument("--report-every", type=int, default=15_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="authhooks-soak-") as tmp:
        growth = asyncio.run(soak(args, Path(tmp)))
    print(f"loadavg={os.getloadavg()[0]:.2f}")
    print(f"rss_growth_after_warmup={growth:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
