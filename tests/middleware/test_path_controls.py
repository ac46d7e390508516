"""Issue 11, item 1: a control character in the path is a 400 ``invalid_request``, never a way around a token.

Starlette and FastAPI route on ``^…$`` with ``re.match``, and ``$`` also matches before a final ``\\n``: without
the refusal, ``GET /admin/stats%0a`` reached the protected ``/admin/stats`` endpoint with no token at all.
"""

from __future__ import annotations

import importlib.util
from collections.abc import MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket

from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware
from authhooks.middleware.paths import PathRules, ScopeRules, path_forms, path_is_safe

from ._support import Issue, bearer, client

ROOT = Path(__file__).resolve().parents[2]
SECRET_BODY = "secret stats"
OPTIONS: dict[str, Any] = {
    "protect": ["/admin/stats", "/reports/*", "/docs/**", "/ws/admin"],
    "public_paths": ["/docs/*"],
    "required_scopes": {"/reports/*": ["reports"]},
}

# Percent-encoded as a client sends them, and the characters themselves as a raw ASGI scope carries them.
ENCODED = ["%0a", "%0A", "%0d", "%0d%0a", "%09", "%7f", "%00", "%1b", "%c2%85", "%C2%9F"]
RAW = ["\n", "\r", "\r\n", "\t", "\x7f", "\x00", "\x0b", "\x0c", "\x1f", "\x85", "\x9f"]


def starlette_app(auth: AuthHooks, ran: list[str]) -> Any:
    async def stats(request: Request) -> Response:
        ran.append("stats")
        return PlainTextResponse(SECRET_BODY)

    async def report(request: Request) -> Response:
        ran.append("report")
        return PlainTextResponse("report " + request.path_params["name"])

    async def doc(request: Request) -> Response:
        ran.append("doc")
        return PlainTextResponse("doc " + request.path_params["page"])

    async def ws_admin(websocket: StarletteWebSocket) -> None:
        ran.append("ws_admin")
        await websocket.accept()
        await websocket.send_text(SECRET_BODY)
        await websocket.close()

    app = Starlette(
        routes=[
            Route("/admin/stats", stats),
            Route("/reports/{name}", report),
            Route("/docs/{page:path}", doc),
            WebSocketRoute("/ws/admin", ws_admin),
        ]
    )
    app.add_middleware(AuthHooksMiddleware, auth=auth, **OPTIONS)
    return app


def fastapi_app(auth: AuthHooks, ran: list[str]) -> Any:
    app = FastAPI()

    @app.get("/admin/stats", response_class=PlainTextResponse)
    async def stats() -> str:
        ran.append("stats")
        return SECRET_BODY

    @app.get("/reports/{name}", response_class=PlainTextResponse)
    async def report(name: str) -> str:
        ran.append("report")
        return "report " + name

    @app.get("/docs/{page:path}", response_class=PlainTextResponse)
    async def doc(page: str) -> str:
        ran.append("doc")
        return "doc " + page

    @app.websocket("/ws/admin")
    async def ws_admin(websocket: WebSocket) -> None:
        ran.append("ws_admin")
        await websocket.accept()
        await websocket.send_text(SECRET_BODY)
        await websocket.close()

    app.add_middleware(AuthHooksMiddleware, auth=auth, **OPTIONS)
    return app


FRAMEWORKS = pytest.mark.parametrize("build", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])


async def call_raw(app: Any, kind: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> list[Any]:
    """Drive ``app`` with a raw ASGI scope whose ``path`` is ``path`` as is; what the app sent."""
    sent: list[MutableMapping[str, Any]] = []
    messages: list[dict[str, Any]] = [
        {"type": "websocket.connect"} if kind == "websocket" else {"type": "http.request", "body": b""}
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        return {"type": "websocket.disconnect", "code": 1000} if kind == "websocket" else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws" if kind == "websocket" else "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    if kind == "websocket":
        scope["subprotocols"] = []
    else:
        scope["method"] = "GET"
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("code", [*range(0x20), 0x7F, *range(0x80, 0xA0)])
def test_every_c0_del_and_c1_character_makes_a_path_unsafe(code: int) -> None:
    assert not path_is_safe("/admin/stats" + chr(code))
    assert not path_is_safe("/" + chr(code) + "/admin")


@pytest.mark.parametrize("path", ["/café", "/€/x", "/a\u00a0b", "/a\u2028b", "/\U0001f600", "/a b", "/a;b", "/~%2f"])
def test_other_characters_stay_safe(path: str) -> None:
    assert path_is_safe(path)


def test_a_path_is_judged_as_given_and_collapsed() -> None:
    assert path_forms("/a/b") == ("/a/b",)
    assert path_forms("//docs//x") == ("/docs/x", "//docs//x")
    rules = PathRules(["/**"], ["/docs/*"])
    assert not rules.is_protected(*path_forms("/docs/x"))
    assert rules.is_protected(*path_forms("/docs//x"))  # collapsed it is public, as given it is not
    scopes = ScopeRules({"/a//b": ["raw"], "/a/b": ["collapsed"]})
    assert scopes.required(*path_forms("/a//b")) == ("collapsed", "raw")


@FRAMEWORKS
@pytest.mark.parametrize("control", ENCODED)
async def test_a_percent_encoded_control_after_a_protected_path_is_400(
    auth: AuthHooks, build: Any, control: str
) -> None:
    ran: list[str] = []
    async with client(build(auth, ran)) as c:
        assert (await c.get("/admin/stats")).status_code == 401
        response = await c.get("/admin/stats" + control)
        inside = await c.get("/admin" + control + "/stats")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert SECRET_BODY not in response.text
    assert inside.status_code == 400
    assert ran == []


@FRAMEWORKS
@pytest.mark.parametrize("control", RAW)
async def test_a_raw_control_in_an_http_scope_is_400(auth: AuthHooks, build: Any, control: str) -> None:
    ran: list[str] = []
    sent = await call_raw(build(auth, ran), "http", "/admin/stats" + control)
    assert sent[0]["status"] == 400
    assert b"invalid_request" in b"".join(m.get("body", b"") for m in sent)
    assert ran == []


@FRAMEWORKS
@pytest.mark.parametrize("control", RAW)
async def test_a_raw_control_in_a_websocket_scope_refuses_the_handshake(
    auth: AuthHooks, build: Any, control: str
) -> None:
    ran: list[str] = []
    sent = await call_raw(build(auth, ran), "websocket", "/ws/admin" + control)
    assert [m["type"] for m in sent] == ["websocket.close"]
    assert sent[0]["code"] == 1008
    assert ran == []


@FRAMEWORKS
async def test_required_scopes_cannot_be_dodged_with_a_final_newline(auth: AuthHooks, issue: Issue, build: Any) -> None:
    ran: list[str] = []
    token = await issue("alice", "read")
    async with client(build(auth, ran)) as c:
        assert (await c.get("/reports/q1", headers=bearer(token))).status_code == 403
        dodged = await c.get("/reports/q1%0a", headers=bearer(token))
        allowed = await c.get("/reports/q1", headers=bearer(await issue("bob", "reports")))
    assert dodged.status_code == 400
    assert allowed.status_code == 200 and allowed.text == "report q1"
    assert ran == ["report"]


@FRAMEWORKS
async def test_a_slash_run_that_collapses_onto_a_public_path_still_needs_a_token(
    auth: AuthHooks, issue: Issue, build: Any
) -> None:
    """``/docs/*`` is public, ``/docs/**`` protected. Collapsed, ``/docs//x`` is the public ``/docs/x``; as given,
    the router dispatches it to ``/docs/{page:path}`` with ``page="/x"`` (an absolute path), which ``/docs/*`` does
    not cover. Judged in both forms, it needs a token."""
    ran: list[str] = []
    async with client(build(auth, ran)) as c:
        assert (await c.get("/docs/x")).text == "doc x"
        assert (await c.get("/docs//x")).status_code == 401
        with_token = await c.get("/docs//x", headers=bearer(await issue()))
    assert with_token.status_code == 200 and with_token.text == "doc /x"
    assert ran == ["doc", "doc"]


@FRAMEWORKS
async def test_paths_without_controls_are_unchanged(auth: AuthHooks, issue: Issue, build: Any) -> None:
    ran: list[str] = []
    async with client(build(auth, ran)) as c:
        assert (await c.get("/admin/stats", headers=bearer(await issue()))).text == SECRET_BODY
        assert (await c.get("/docs/caf%C3%A9%20menu")).text == "doc café menu"
        assert (await c.get("/reports/q1;x", headers=bearer(await issue("bob", "reports")))).text == "report q1;x"
        assert (await c.get("/admin/stats/")).status_code == 401  # the slash variant is guarded too
        redirect = await c.get("/admin/stats/", headers=bearer(await issue()))  # the router's redirect_slashes
        assert (await c.get(redirect.headers["location"])).status_code == 401  # the target is protected
    assert redirect.status_code == 307 and redirect.headers["location"].endswith("/admin/stats")
    assert ran == ["stats", "doc", "report"]


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_authhooks_example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["starlette_app", "fastapi_app"])
@pytest.mark.parametrize("path", ["/me%0a", "/admin%0a", "/me%0d", "/me%09"])
async def test_the_examples_answer_400_not_500(tmp_path: Path, name: str, path: str) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    try:
        async with client(load_example(name).create_app(auth)) as c:
            response = await c.get(path)
    finally:
        await auth.aclose()
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
