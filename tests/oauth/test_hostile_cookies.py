"""Hostile cookies, CSRF headers and bodies on a session-protected path: never a 5xx, never a pass without a live
session, under the ASGI driver (hypothesis)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks, Principal
from authhooks.middleware.asgi import AuthHooksMiddleware

header_bytes = st.binary(max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b)


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.user.display_name)


async def _call(app: Any, method: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/me",
        "raw_path": b"/me",
        "root_path": "",
        "scheme": "https",
        "query_string": b"",
        "headers": [(b"host", b"app.test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("app.test", 443),
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


def test_hostile_session_requests(tmp_path: Path) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, sessions=True)
    app = AuthHooksMiddleware(
        Starlette(routes=[Route("/me", _ok, methods=["GET", "POST"])]), auth=auth, protect=["/me"]
    )
    loop = asyncio.new_event_loop()
    grant = loop.run_until_complete(auth.create_session(Principal("alice")))
    live = f"__Host-authhooks_session={grant.session_id}".encode()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        method=st.sampled_from(["GET", "POST", "DELETE"]),
        cookie=st.one_of(header_bytes, st.just(live), header_bytes.map(lambda b: live + b"; " + b)),
        csrf=st.one_of(st.none(), header_bytes, st.just(grant.csrf.encode())),
        origin=st.one_of(st.none(), header_bytes, st.just(b"https://app.test")),
        form=st.booleans(),
        body=st.binary(max_size=300),
    )
    def run(method: str, cookie: bytes, csrf: bytes | None, origin: bytes | None, form: bool, body: bytes) -> None:
        headers = [(b"cookie", cookie)]
        if csrf is not None:
            headers.append((b"x-csrf-token", csrf))
        if origin is not None:
            headers.append((b"origin", origin))
        if form:
            headers += [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
            ]
        status = loop.run_until_complete(_call(app, method, headers, body))
        assert status < 500
        if status == 200:  # only the live session, and for an unsafe method only with its CSRF token, same origin
            assert cookie.startswith(live)
            if method != "GET":
                assert origin in (None, b"https://app.test")
                assert csrf == grant.csrf.encode() or (form and grant.csrf.encode() in body)

    try:
        run()
    finally:
        loop.run_until_complete(auth.aclose(timeout=2.0))
        loop.close()
