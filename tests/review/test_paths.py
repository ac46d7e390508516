"""Protection must judge the path the app routes on: behind ``uvicorn --root-path`` or inside a ``Mount``, ASGI
``scope["path"]`` carries the ``root_path`` prefix and Starlette strips it before routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from authhooks import AuthHooks, Secret
from authhooks.middleware import AuthHooksMiddleware


def _auth(tmp_path: Path) -> AuthHooks:
    return AuthHooks(secret=Secret(b"review-test-secret-0123456789abcdef!!"), store_url="memory://", state_dir=tmp_path)


async def secret(request: Request) -> Response:
    return PlainTextResponse("secret")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def _inner(auth: AuthHooks) -> Starlette:
    app = Starlette(routes=[Route("/admin/secret", secret), Route("/health", health)])
    app.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/admin/**"], public_paths=["/health"])
    return app


async def _get(app: Any, path: str, root_path: str = "") -> httpx.Response:
    transport = httpx.ASGITransport(app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return await c.get(path)


async def test_protection_holds_behind_a_server_root_path(tmp_path: Path) -> None:
    auth = _auth(tmp_path)
    # uvicorn --root-path /svc: scope["path"] = "/svc/admin/secret", scope["root_path"] = "/svc".
    response = await _get(_inner(auth), "/svc/admin/secret", root_path="/svc")
    assert response.status_code == 401
    assert response.text != "secret"
    await auth.aclose()


async def test_protection_holds_inside_a_mount(tmp_path: Path) -> None:
    auth = _auth(tmp_path)
    outer = Starlette(routes=[Mount("/v1", app=_inner(auth))])
    response = await _get(outer, "/v1/admin/secret")
    assert response.status_code == 401
    assert response.text != "secret"
    ok = await _get(outer, "/v1/health")
    assert ok.status_code == 200
    await auth.aclose()
