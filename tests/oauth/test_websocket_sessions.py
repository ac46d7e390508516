"""Cross-site WebSocket hijacking: a WebSocket handshake carrying a session cookie is accepted only from the
site's own origin (browsers always send ``Origin`` on it; a same-site sibling page gets the ``SameSite=Lax``
cookie sent along). A client without ``Origin`` (not a browser) is judged by the session alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from authhooks import AuthHooks, Principal
from authhooks.middleware.asgi import AuthHooksMiddleware


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.display_name)
    await websocket.close()


async def _handshake(app: Any, scheme: str, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": scheme,
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"app.test"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-version", b"13"),
            *headers,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("app.test", 443),
        "subprotocols": [],
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("scheme", ["wss", "ws"])
async def test_a_session_websocket_only_from_the_own_origin(tmp_path: Path, scheme: str) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, sessions=True)
    app = AuthHooksMiddleware(Starlette(routes=[WebSocketRoute("/ws", _echo)]), auth=auth, protect=["/ws"])
    grant = await auth.create_session(Principal("alice"))
    cookie = (b"cookie", f"__Host-authhooks_session={grant.session_id}".encode())
    page = b"https://app.test" if scheme == "wss" else b"http://app.test"

    own = await _handshake(app, scheme, [cookie, (b"origin", page)])
    assert own[0]["type"] == "websocket.accept" and {"type": "websocket.send", "text": "alice"} in own
    no_origin = await _handshake(app, scheme, [cookie])
    assert no_origin[0]["type"] == "websocket.accept"
    for origin in (b"https://evil.app.test", b"null", b"https://app.test.evil"):
        refused = await _handshake(app, scheme, [cookie, (b"origin", origin)])
        assert refused[0]["type"] == "websocket.close", (origin, refused)
    await auth.aclose()
