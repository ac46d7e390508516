"""Observe mode: the decision hooks must see the identifier the app will act on, whatever ``Content-Type`` says.

Starlette's ``request.json()`` and FastAPI's body parsing read a JSON body sent without a ``Content-Type`` header,
so a lockout hook keyed on the subject must not be bypassed by leaving the header out."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authhooks import AuthHooks, Deny, Secret
from authhooks.middleware import AuthHooksMiddleware, ObservedRoute


async def login(request: Request) -> Response:
    data = await request.json()  # as Starlette apps do: no Content-Type check
    return JSONResponse({"logged_in": data.get("username")})


async def test_a_lockout_hook_sees_the_identifier_of_a_json_body_without_content_type(tmp_path: Path) -> None:
    auth = AuthHooks(secret=Secret(b"review-test-secret-0123456789abcdef!!"), store_url="memory://", state_dir=tmp_path)
    seen: list[object] = []

    @auth.hook("login.pre")
    def lockout(subject: str | None) -> Deny | None:
        seen.append(subject)
        return Deny(status=423, reason="account_locked") if subject == "alice" else None

    app = Starlette(routes=[Route("/login", login, methods=["POST"])])
    app.add_middleware(
        AuthHooksMiddleware,
        auth=auth,
        public_paths=["/login"],
        observe=[ObservedRoute("/login", "POST", flow="login", identifier_field="username")],
    )
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.post("/login", content=b'{"username": "alice", "password": "x"}')
    assert "content-type" not in response.request.headers
    assert seen == ["alice"]
    assert response.status_code == 423
    await auth.aclose()
