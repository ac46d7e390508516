"""The middleware in process: protection, scope keys, denials, faults, WebSockets, lifespan and options; the
behaviour tests run against both drivers (``driver``: ASGI and WSGI)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from authhooks import AuthHooks, ConfigurationError, Deny, KeySetUnavailableError, RequestInfo, StoreUnavailableError
from authhooks._sync import SyncAuthHooks
from authhooks.middleware import AuthHooksMiddleware
from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware

from ._support import Issue, bearer, client, make_app, make_auth, make_for
from ._wsgi import call_wsgi, environ_for, twin_app

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


async def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    async with client(app) as c:
        return await c.get(path, **kwargs)


async def call_raw(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Drive ``app`` with a raw ASGI scope (paths httpx would normalise) and collect what it sends."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    base: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "headers": [],
        "scheme": "http",
        "query_string": b"",
        "client": None,
    }
    await app({**base, **scope}, receive, send)
    return sent


async def raw_status(driver: str, app: Any, path: str) -> int:
    """The status of a GET of ``path`` as given (no normalisation), under ``driver``."""
    if driver == "wsgi":
        environ = environ_for("GET", path.encode("latin-1"), [])
        return call_wsgi(app, environ)[0]
    sent = await call_raw(app, {"path": path, "raw_path": path.encode("latin-1")})
    return int(sent[0]["status"])


# -- protection -----------------------------------------------------------------------------------------------


async def test_valid_token_reaches_the_app_with_starlette_user_and_scopes(
    driver: str, auth: AuthHooks, issue: Issue
) -> None:
    app = make_for(driver, auth)
    r = await get(app, "/api/me", headers=bearer(await issue("alice", "read write")))
    assert r.status_code == 200
    assert r.json() == {
        "identity": "alice",
        "authenticated": True,
        "scopes": ["authenticated", "read", "write"],
        "principal": "alice",
    }


async def test_no_credentials_get_the_bare_challenge(driver: str, auth: AuthHooks) -> None:
    r = await get(make_for(driver, auth), "/api/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="authhooks"'
    assert r.headers["cache-control"] == "no-store"
    assert r.content == b""


async def test_realm_option_and_problem_json(driver: str, auth: AuthHooks) -> None:
    app = make_for(driver, auth, realm="shop", error_format="problem+json")
    r = await get(app, "/api/me", headers=bearer("not.a.jwt"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith('Bearer realm="shop", error="invalid_token"')
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == 401 and doc["error"] == "invalid_token" and doc["type"].startswith("urn:authhooks:")


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ([("authorization", "Bearer a.b.c")], 401, "invalid_token"),
        ([("authorization", "Bearer")], 400, "invalid_request"),
        ([("authorization", "Bearer a b")], 400, "invalid_request"),
        ([("authorization", "Bearer a"), ("authorization", "Bearer b")], 400, "invalid_request"),
        ([("authorization", "Basic dXNlcjpwYXNz")], 401, None),
        ([("authorization", "Bearer tok\xe9n")], 400, "invalid_request"),
    ],
)
async def test_bad_credentials(
    driver: str, auth: AuthHooks, headers: list[tuple[str, str]], status: int, error: str | None
) -> None:
    r = await get(
        make_for(driver, auth),
        "/api/me",
        headers=httpx.Headers([(k.encode(), v.encode("latin-1")) for k, v in headers]),
    )
    assert r.status_code == status
    challenge = r.headers["www-authenticate"]
    if error is None:
        assert challenge == 'Bearer realm="authhooks"'
    else:
        assert f'error="{error}"' in challenge
        assert r.json()["error"] == error


async def test_token_signed_by_another_key_is_refused(driver: str, auth: AuthHooks, tmp_path: Path) -> None:
    other = make_auth(tmp_path / "other", secret=b"another-secret-another-secret-0123456789")
    token = (await other.issue_token("mallory", {"scope": "admin"})).token
    await other.aclose()
    r = await get(make_for(driver, auth), "/api/admin", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    assert token not in r.text


async def test_revoked_token_is_refused(driver: str, auth: AuthHooks, issue: Issue) -> None:
    token = await issue()
    assert await auth.invalidate_token(token)
    r = await get(make_for(driver, auth), "/api/me", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["error_description"]


async def test_public_and_open_paths_pass_anonymous_without_checking(driver: str, auth: AuthHooks) -> None:
    app = make_for(driver, auth, protect=["/api/**"])
    r = await get(app, "/health", headers=bearer("garbage"))
    assert r.status_code == 200 and r.text == "ok"
    r = await get(app, "/login-page-that-does-not-exist")
    assert r.status_code == 404  # open (not protected): the app answers


async def test_requires_decorator_sees_the_scopes(driver: str, auth: AuthHooks, issue: Issue) -> None:
    app = make_for(driver, auth)
    assert (await get(app, "/api/admin", headers=bearer(await issue("bob", "read")))).status_code == 403
    r = await get(app, "/api/admin", headers=bearer(await issue("root", "admin")))
    assert r.status_code == 200 and r.text == "admin root"


async def test_required_scopes_answer_insufficient_scope(driver: str, auth: AuthHooks, issue: Issue) -> None:
    app = make_for(driver, auth, required_scopes={"/api/**": ["read"], "/api/admin": "admin"})
    r = await get(app, "/api/admin", headers=bearer(await issue("bob", "read")))
    assert r.status_code == 403
    assert r.headers["www-authenticate"] == (
        'Bearer realm="authhooks", error="insufficient_scope", '
        'error_description="The access token does not grant the required scope.", scope="admin read"'
    )
    assert (await get(app, "/api/me", headers=bearer(await issue("bob", "read")))).status_code == 200
    assert (await get(app, "/api/me", headers=bearer(await issue("eve", "other")))).status_code == 403


async def test_optional_auth(driver: str, auth: AuthHooks, issue: Issue) -> None:
    app = make_for(driver, auth, optional_auth=True, required_scopes={"/api/admin": ["admin"]})
    anonymous = await get(app, "/api/me")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"identity": None, "authenticated": False, "scopes": [], "principal": None}
    assert (await get(app, "/api/me", headers={"authorization": "Basic eDp5"})).status_code == 200
    assert (await get(app, "/api/me", headers=bearer("bad.token.here"))).status_code == 401
    assert (await get(app, "/api/me", headers=bearer(await issue()))).json()["identity"] == "alice"
    assert (await get(app, "/api/admin")).status_code == 401  # scopes required: anonymous is not enough


@pytest.mark.parametrize("path", ["/api/../admin", "/public/../api/me", "/api/./me", "/api/me\x00", "relative"])
async def test_unsafe_paths_are_400(driver: str, auth: AuthHooks, path: str) -> None:
    assert await raw_status(driver, make_for(driver, auth), path) == 400


async def test_double_slashes_cannot_dodge_protection(driver: str, auth: AuthHooks) -> None:
    app = make_for(driver, auth, protect=["/api/**"], public_paths=["/health"])
    assert await raw_status(driver, app, "//api//me") == 401


# -- hooks, denials and faults --------------------------------------------------------------------------------


async def test_hooks_see_request_info_without_credentials(driver: str, auth: AuthHooks, issue: Issue) -> None:
    seen: list[RequestInfo] = []

    def record(request: RequestInfo) -> None:
        seen.append(request)

    auth.add_hook("validate_token.pre", record)
    token = await issue()
    headers = {**bearer(token), "cookie": "session=secret", "x-trace": "t1", "x-leak": f"Bearer {token}"}
    assert (await get(make_for(driver, auth), "/api/me", headers=headers)).status_code == 200
    info = seen[0]
    assert (info.method, info.path, info.client_ip, info.scheme) == ("GET", "/api/me", "127.0.0.1", "http")
    assert info.headers["x-trace"] == "t1"
    assert "authorization" not in info.headers and "cookie" not in info.headers
    assert token not in repr(dict(info.headers))


async def test_a_deny_is_answered_at_once(driver: str, auth: AuthHooks, issue: Issue) -> None:
    def block(token: str) -> Deny:
        return Deny(429, "rate_limited", {"Retry-After": "7"}, {"error": "slow_down"})

    auth.add_hook("validate_token.pre", block)
    r = await get(make_for(driver, auth), "/api/me", headers=bearer(await issue()))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json() == {"error": "slow_down"}


async def test_a_failing_hook_fails_closed_with_503(driver: str, auth: AuthHooks, issue: Issue) -> None:
    def broken(principal: Any) -> None:
        raise RuntimeError("database password=hunter2")

    auth.add_hook("validate_token.post", broken)
    r = await get(make_for(driver, auth), "/api/me", headers=bearer(await issue()))
    assert r.status_code == 503
    assert r.json()["error"] == "temporarily_unavailable"
    assert "hunter2" not in r.text and "RuntimeError" not in r.text


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (KeySetUnavailableError("https://idp.internal/jwks down"), 503),
        (StoreUnavailableError("redis://:pw@10.0.0.1"), 503),
        (ZeroDivisionError("secret-internal"), 500),
    ],
)
async def test_faults_are_generic_and_logged_by_type_only(
    driver: str,
    auth: AuthHooks,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    exc: Exception,
    status: int,
) -> None:
    async def failing(token: str, *, request: RequestInfo | None = None) -> Any:
        raise exc

    def failing_sync(self: Any, token: str, *, request: RequestInfo | None = None) -> Any:
        raise exc

    monkeypatch.setattr(auth, "validate_token", failing)
    monkeypatch.setattr(SyncAuthHooks, "validate_token", failing_sync)  # the WSGI driver's call
    with caplog.at_level(logging.DEBUG, logger="authhooks"):
        r = await get(make_for(driver, auth), "/api/me", headers=bearer("abc.def.ghi"))
    assert r.status_code == status
    assert str(exc) not in r.text and "abc.def.ghi" not in r.text
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert type(exc).__name__ in logged
    assert str(exc) not in logged and "Traceback" not in logged and all(rec.exc_info is None for rec in caplog.records)


async def test_app_exceptions_are_not_swallowed(driver: str, auth: AuthHooks, issue: Issue) -> None:
    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("the app's own error")

    def wsgi_boom(environ: Any, start_response: Any) -> Any:
        raise LookupError("the app's own error")

    app: Any = (
        AuthHooksWSGIMiddleware(wsgi_boom, auth=auth) if driver == "wsgi" else AuthHooksMiddleware(boom, auth=auth)
    )
    with pytest.raises(LookupError):
        await get(app, "/x", headers=bearer(await issue()))


# -- WebSocket ------------------------------------------------------------------------------------------------


async def ws_session(app: Any, headers: dict[str, str], path: str = "/ws") -> list[dict[str, Any]]:
    """Open a WebSocket on ``app`` in process; return what the app sent (a refusal is a close before accept)."""
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.encode(), v.encode("latin-1")) for k, v in headers.items()],
        "scheme": "ws",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    return sent


async def test_websocket_with_a_token(auth: AuthHooks, issue: Issue) -> None:
    sent = await ws_session(make_app(auth), bearer(await issue("carol")))
    assert [m["type"] for m in sent][:2] == ["websocket.accept", "websocket.send"]
    assert sent[1]["text"] == "carol"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer bad.token.x"}, {"authorization": "Bearer a b"}])
async def test_refused_websocket_handshake_is_closed_with_1008(auth: AuthHooks, headers: dict[str, str]) -> None:
    sent = await ws_session(make_app(auth), headers)
    assert len(sent) == 1
    assert sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


async def test_websocket_fault_is_closed_with_1011(auth: AuthHooks, monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing(token: str, *, request: RequestInfo | None = None) -> Any:
        raise StoreUnavailableError("down")

    monkeypatch.setattr(auth, "validate_token", failing)
    sent = await ws_session(make_app(auth), bearer("a.b.c"))
    assert sent == [{"type": "websocket.close", "code": 1011, "reason": ""}]


async def test_websocket_anonymous_on_a_public_path(auth: AuthHooks) -> None:
    sent = await ws_session(make_app(auth, public_paths=["/ws"]), {})
    assert sent[1]["text"] == "anonymous"


async def test_websocket_to_a_route_path_is_not_served_as_a_route(auth: AuthHooks) -> None:
    sent = await ws_session(make_app(auth), {}, path="/auth/login")
    assert sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


# -- lifespan -------------------------------------------------------------------------------------------------


class _Handle:
    def __init__(self) -> None:
        self.flushed = 0

    def force_flush(self) -> bool:
        self.flushed += 1
        return True


async def _lifespan(app: Any) -> list[dict[str, Any]]:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


async def test_lifespan_prepares_then_closes_and_flushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = make_auth(tmp_path)
    calls: list[str] = []

    async def prepare() -> None:
        calls.append("prepare")

    async def aclose(timeout: float = 5.0) -> None:
        calls.append("aclose")

    handle = _Handle()
    monkeypatch.setattr(auth, "prepare", prepare)
    monkeypatch.setattr(auth, "aclose", aclose)
    monkeypatch.setattr(auth, "telemetry_handle", handle, raising=False)
    sent = await _lifespan(make_app(auth))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert calls == ["prepare", "aclose"] and handle.flushed == 1


@pytest.mark.parametrize(("strict", "first"), [(False, "lifespan.startup.complete"), (True, "lifespan.startup.failed")])
async def test_failed_prefetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strict: bool, first: str) -> None:
    auth = make_auth(tmp_path)

    async def prepare() -> None:
        raise KeySetUnavailableError("down")

    monkeypatch.setattr(auth, "prepare", prepare)
    sent = await _lifespan(make_app(auth, strict_startup=strict))
    assert sent[0]["type"] == first
    await auth.aclose()


# -- options --------------------------------------------------------------------------------------------------


async def test_env_settings_apply_and_keyword_arguments_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTHHOOKS_PROTECT", "/api/**")
    monkeypatch.setenv("AUTHHOOKS_ROUTES_PREFIX", "/oauth")
    monkeypatch.setenv("AUTHHOOKS_STORE_URL", "memory://")
    monkeypatch.setenv("AUTHHOOKS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AUTHHOOKS_SECRET", "env-secret-env-secret-env-secret-0123")
    mw = AuthHooksMiddleware(Starlette(), routes_prefix="/auth2/")
    assert mw.settings.protect == ("/api/**",)
    assert mw.settings.routes_prefix == "/auth2/"
    r = await get(mw, "/auth2/jwks.json")
    assert r.status_code == 200
    assert (await get(mw, "/other")).status_code == 404
    await mw.auth.aclose()


@pytest.mark.parametrize(
    "options",
    [
        {"protect": ["api/**"]},
        {"error_format": "xml"},
        {"max_body_bytes": 0},
        {"routes_prefix": "auth"},
        {"required_scopes": {"/a": ["bad scope\x00"]}},
        {"observe": ["/login"]},
    ],
)
def test_bad_options_are_configuration_errors(driver: str, tmp_path: Path, options: dict[str, Any]) -> None:
    build: Any = AuthHooksWSGIMiddleware if driver == "wsgi" else AuthHooksMiddleware
    with pytest.raises(ConfigurationError):
        build(twin_app if driver == "wsgi" else Starlette(), auth=make_auth(tmp_path), **options)


async def test_routes_can_be_disabled(driver: str, auth: AuthHooks) -> None:
    r = await get(make_for(driver, auth, routes=False, public_paths=["/auth/**"]), "/auth/jwks.json")
    assert r.status_code == 404


async def test_instrument_asgi_wraps_the_middleware(driver: str, auth: AuthHooks, issue: Issue) -> None:
    app = make_for(driver, auth, instrument_asgi=True)  # instrument_wsgi under WSGI
    r = await get(app, "/api/me", headers=bearer(await issue()))
    assert r.status_code == 200 and json.loads(r.text)["identity"] == "alice"


async def test_other_scope_types_pass_through(auth: AuthHooks) -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        pass

    await AuthHooksMiddleware(inner, auth=auth)({"type": "custom"}, receive, send)
    assert seen == ["custom"]


async def test_shutdown_failures_are_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    auth = make_auth(tmp_path)

    async def aclose(timeout: float = 5.0) -> None:
        raise OSError("disk")

    class Broken:
        def force_flush(self) -> bool:
            raise ConnectionError("collector down")

    monkeypatch.setattr(auth, "aclose", aclose)
    monkeypatch.setattr(auth, "telemetry_handle", Broken(), raising=False)
    sent = await _lifespan(make_app(auth))
    assert sent[-1]["type"] == "lifespan.shutdown.complete"
    assert "OSError" in caplog.text and "ConnectionError" in caplog.text and "disk" not in caplog.text
