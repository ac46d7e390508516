"""Helpers for the middleware tests: a real ``AuthHooks`` (HS256, memory store), a tiny Starlette app per test and
an in-process client."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from authhooks import AuthHooks, Secret
from authhooks.middleware import AuthHooksMiddleware

SECRET = Secret(b"middleware-test-secret-0123456789abcdef")


def make_auth(tmp_path: Path, **overrides: Any) -> AuthHooks:
    """A real engine: HS256 with a test secret, the memory store, state under ``tmp_path``."""
    options: dict[str, Any] = {"secret": SECRET, "store_url": "memory://", "state_dir": tmp_path, **overrides}
    return AuthHooks(**options)


Issue = Callable[..., Awaitable[str]]
"""``await issue(subject, scope, **claims)`` → a real access token."""


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def me(request: Request) -> Response:
    state = request.scope["authhooks"]
    return JSONResponse(
        {
            "identity": request.user.identity if request.user.is_authenticated else None,
            "authenticated": request.user.is_authenticated,
            "scopes": sorted(request.auth.scopes),
            "principal": state["principal"].subject if state["principal"] else None,
        }
    )


@requires("admin")
async def admin(request: Request) -> Response:
    return PlainTextResponse(f"admin {request.user.display_name}")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(body, media_type=request.headers.get("content-type", "application/octet-stream"))


async def login(request: Request) -> Response:
    try:
        data = await request.json()
    except ValueError:
        return JSONResponse({"error": "bad json"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "not an object"}, status_code=400)
    ok = data.get("password") == "right"
    return JSONResponse({"ok": ok, "got": data}, status_code=200 if ok else 401)


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.identity if websocket.user.is_authenticated else "anonymous")
    await websocket.close()


def make_app(auth: AuthHooks, **options: Any) -> Starlette:
    """The test app: ``/api/me`` (protected), ``/api/admin`` (``@requires("admin")``), ``/health`` (public),
    ``/public/echo`` and ``/login`` (app routes), ``/ws`` (WebSocket)."""
    app = Starlette(
        routes=[
            Route("/api/me", me),
            Route("/api/admin", admin),
            Route("/health", health),
            Route("/public/echo", echo, methods=["POST"]),
            Route("/login", login, methods=["POST"]),
            WebSocketRoute("/ws", ws_endpoint),
        ]
    )
    options.setdefault("public_paths", ["/health", "/public/**", "/login"])
    app.add_middleware(AuthHooksMiddleware, auth=auth, **options)
    return app


def make_for(driver: str, auth: AuthHooks, **options: Any) -> Any:
    """The test app under ``driver``: ``"asgi"`` (:func:`make_app`) or ``"wsgi"`` (its WSGI twin)."""
    if driver == "wsgi":
        from ._wsgi import make_wsgi_app

        return make_wsgi_app(auth, **options)
    return make_app(auth, **options)


def client(app: Any) -> httpx.AsyncClient:
    """An in-process client of an ASGI app, or of a WSGI app (environ built as a real server builds it)."""
    from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware

    from ._wsgi import WSGIServerTransport

    wsgi = isinstance(app, AuthHooksWSGIMiddleware)
    transport: httpx.AsyncBaseTransport = WSGIServerTransport(app) if wsgi else httpx.ASGITransport(app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=10)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Server:
    """A real uvicorn server on 127.0.0.1 (a free port), in a thread, for end-to-end tests."""

    def __init__(self, app: Any) -> None:
        import socket
        import threading

        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> Server:
        import time

        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"

    def raw(self, request: bytes, timeout: float = 5.0) -> bytes:
        """Send raw bytes (requests httpx would refuse or normalise) and return the whole response."""
        import socket

        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while True:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break
                if not data:
                    break
                chunks.append(data)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(response.split(b" ", 2)[1])
