"""Protected-request throughput under uvicorn with a load generator on loopback, in the same run.

Run: ``python benchmarks/throughput.py`` (needs ``wrk`` on ``PATH``: ``apt-get install wrk``; ``--seconds`` and
``--rounds`` set the length). Three uvicorn servers (one process each, ``127.0.0.1``, access log off) serve the
same Starlette route ``GET /protected`` answering ``ok``:

- ``bare``: the app alone (no authentication);
- ``peer``: Starlette ``AuthenticationMiddleware`` with a PyJWT HS256 backend (``jwt.decode`` with audience,
  issuer and a required ``exp``);
- ``authhooks``: ``AuthHooksMiddleware`` protecting ``/protected``, HS256, telemetry off, memory store.

Each round loads every server in turn with ``wrk`` (1 thread, 32 connections) sending the same valid HS256
Bearer token, as a load generator does (so authhooks answers from its validated-token cache after the first
request). The servers take turns within a round, in an order rotated per round (each server is a separate
process, so no garbage crosses from one to another). The last lines are ``ratio_<server>=…``: the median of
same-round requests-per-second ratios against ``bare``, then the target (product.md §9, issue 15:
``ratio_authhooks`` ≥ 0.8; the peer reaches about 0.52) with ``targets_met=yes|no``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import Targets, print_footer, print_header, rotated

SERVERS = ("bare", "peer", "authhooks")
ISSUER, AUDIENCE = "https://issuer.bench", "bench-api"
SECRET = "throughput-benchmark-secret-" + "k" * 36  # HS256 key shared by the peer, authhooks and the client
TARGET = 0.8


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


class _JWTBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        header = conn.headers.get("authorization")
        if not header or not header.startswith("Bearer "):
            raise AuthenticationError("missing token")
        try:
            claims = jwt.decode(
                header[7:], SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, options={"require": ["exp"]}
            )
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("invalid token") from exc
        return AuthCredentials(["authenticated"]), SimpleUser(claims["sub"])


def build(server: str, state_dir: str) -> Any:
    """The ASGI app one server runs."""
    routes = [Route("/protected", _ok)]
    if server == "bare":
        return Starlette(routes=routes)
    if server == "peer":
        return Starlette(routes=routes, middleware=[Middleware(AuthenticationMiddleware, backend=_JWTBackend())])
    from authhooks.middleware import AuthHooksMiddleware

    return AuthHooksMiddleware(Starlette(routes=routes), auth=_auth(state_dir), protect=["/protected"])


def _auth(state_dir: str) -> Any:
    from authhooks import AuthHooks, Secret

    return AuthHooks(
        store_url="memory://",
        secret=Secret(SECRET),
        algorithms=("HS256",),
        issuer=ISSUER,
        audience=(AUDIENCE,),
        telemetry=False,
        state_dir=state_dir,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/missing", timeout=1)
        except urllib.error.HTTPError:
            return  # any HTTP answer means the server is up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not start")


def _wrk(port: int, token: str, seconds: int) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c32",
            f"-d{seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}/protected",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers under load:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{out}")
    return float(found.group(1))


def _refuses_without_token(port: int) -> None:
    """A sanity check: the protected servers really check (no token, no 200)."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/protected", timeout=5)
    except urllib.error.HTTPError as exc:
        if exc.code in (400, 401):
            return
    raise RuntimeError(f"the server on port {port} answered a request without a token")


def serve(server: str, port: int, state_dir: str) -> None:
    """Run one server in this process until it is terminated."""
    import uvicorn

    uvicorn.run(build(server, state_dir), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.state_dir)
        return
    if shutil.which("wrk") is None:
        sys.exit("throughput.py needs wrk on PATH (apt-get install wrk)")
    print_header("protected HS256 request throughput under uvicorn + wrk on loopback")
    state_dir = tempfile.mkdtemp(prefix="authhooks-throughput-")
    token = _auth(state_dir).sync.issue_token("alice").token
    ports = {server: _free_port() for server in SERVERS}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", server, "--port", str(port), "--state-dir", state_dir], env=env
        )
        for server, port in ports.items()
    ]
    try:
        for port in ports.values():
            _wait_ready(port, time.monotonic() + 30)
        for server in SERVERS[1:]:
            _refuses_without_token(ports[server])
        for port in ports.values():
            _wrk(port, token, 1)  # warm up
        results: dict[str, list[float]] = {server: [] for server in SERVERS}
        for i in range(args.rounds):
            for server in rotated(list(SERVERS), i):  # alternated, the order rotated per round
                results[server].append(_wrk(ports[server], token, args.seconds))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
    print(f"\nprotected HS256 request under uvicorn, wrk -t1 -c32, {args.seconds}s x {args.rounds} rounds (req/s)")
    for server, values in results.items():
        print(f"  {server:<10} {statistics.median(values):10.0f}")
    print()
    targets = Targets()
    for server in SERVERS[1:]:
        ratio = statistics.median(s / b for s, b in zip(results[server], results["bare"], strict=True))
        print(f"ratio_{server}={ratio:.2f}")
        if server == "authhooks":
            targets.at_least("ratio_authhooks_vs_bare", ratio, TARGET)
    targets.print()
    print_footer()


if __name__ == "__main__":
    main()
