"""What only the WSGI driver has: SCRIPT_NAME, the bounded wsgi.input read, REMOTE_USER and the environ keys,
observe mode's replayed body, start-up at build, close()/atexit, async hooks refused, and the WSGI server span."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from authhooks import AuthHooks, ConfigurationError, Deny, Principal, RequestInfo
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.middleware import ObservedRoute
from authhooks.middleware.wsgi import AUTH_KEY, PRINCIPAL_KEY, REQUEST_KEY, AuthHooksWSGIMiddleware

from ._support import make_auth
from ._wsgi import call_wsgi, environ_for


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthHooks]:
    engine = make_auth(tmp_path)
    yield engine
    engine.close()


def token(auth: AuthHooks, subject: str = "alice", scope: str = "read") -> bytes:
    return b"Bearer " + auth.sync.issue_token(subject, {"scope": scope}).token.encode()


class Recorder:
    """A WSGI app that records the environ it got and the body it read (``CONTENT_LENGTH`` bytes)."""

    def __init__(self) -> None:
        self.environ: dict[str, Any] | None = None
        self.body: bytes | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.environ = environ
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length)
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"app"]


class Unreadable(io.RawIOBase):
    """A ``wsgi.input`` that must not be read."""

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the body was read")


# -- paths, environ keys --------------------------------------------------------------------------------------------


def test_script_name_is_the_mount_point(auth: AuthHooks) -> None:
    app = Recorder()
    mw = AuthHooksWSGIMiddleware(app, auth=auth, protect=["/api/**"])
    # Mounted at /shop: patterns and routes see PATH_INFO; hooks see the full path.
    status, _, _ = call_wsgi(mw, environ_for("GET", b"/shop/api/me", [], script_name="/shop"))
    assert status == 401
    status, _, _ = call_wsgi(
        mw, environ_for("GET", b"/shop/api/me", [(b"authorization", token(auth))], script_name="/shop")
    )
    assert status == 200 and app.environ is not None
    info = app.environ[REQUEST_KEY]
    assert isinstance(info, RequestInfo) and info.path == "/shop/api/me"
    assert call_wsgi(mw, environ_for("GET", b"/shop/auth/jwks.json", [], script_name="/shop"))[0] == 200
    assert call_wsgi(mw, environ_for("GET", b"/shop/other", [], script_name="/shop"))[0] == 200  # not protected
    assert call_wsgi(mw, environ_for("GET", b"/shop", [], script_name="/shop"))[0] == 200  # PATH_INFO "" is "/"


def test_remembered_path_plans_answer_as_the_rules_do(auth: AuthHooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver remembers what the path rules say about a path (Gate.plan, shared with ASGI): repeated, collapsed
    and unsafe paths keep their answers, and the memory is bounded."""
    from authhooks.middleware import gate as gate_module

    monkeypatch.setattr(gate_module, "_PLANS_LIMIT", 8)
    mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth, protect=["/api/**"])
    for _ in range(2):
        assert call_wsgi(mw, environ_for("GET", b"/api/me", []))[0] == 401
        assert call_wsgi(mw, environ_for("GET", b"/api/me", [(b"authorization", token(auth))]))[0] == 200
        assert call_wsgi(mw, environ_for("GET", b"//api//me", []))[0] == 401  # the collapsed form is protected
        assert call_wsgi(mw, environ_for("GET", b"/api/../api/me", []))[0] == 400
        assert call_wsgi(mw, environ_for("GET", b"/other", []))[0] == 200
    for i in range(20):
        assert call_wsgi(mw, environ_for("GET", f"/api/x{i}".encode(), []))[0] == 401
    assert 0 < len(mw._plans) <= 8
    long_path = "/api/" + "a" * (gate_module._PLAN_PATH_MAX + 1)
    assert call_wsgi(mw, environ_for("GET", long_path.encode(), []))[0] == 401
    assert long_path not in mw._plans


def test_utf8_paths_are_matched_as_text(auth: AuthHooks) -> None:
    """PEP 3333 carries PATH_INFO as latin-1 text of the bytes: patterns see the UTF-8 text, as under ASGI."""
    mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth, protect=["/café/**"])
    assert call_wsgi(mw, environ_for("GET", "/café/menu".encode(), []))[0] == 401
    assert call_wsgi(mw, environ_for("GET", b"/caf%C3%A9/menu", []))[0] == 401
    assert call_wsgi(mw, environ_for("GET", b"/cafe/menu", []))[0] == 200


def test_success_sets_remote_user_and_the_environ_keys(auth: AuthHooks) -> None:
    app = Recorder()
    mw = AuthHooksWSGIMiddleware(app, auth=auth, protect=["/api/**"])
    call_wsgi(mw, environ_for("GET", b"/api/me", [(b"authorization", token(auth, "bob"))]))
    assert app.environ is not None
    assert app.environ["REMOTE_USER"] == "bob"
    assert isinstance(app.environ[PRINCIPAL_KEY], Principal) and app.environ[PRINCIPAL_KEY].subject == "bob"
    assert app.environ[AUTH_KEY] is auth
    call_wsgi(mw, environ_for("GET", b"/open", [(b"authorization", token(auth, "bob"))]))
    assert "REMOTE_USER" not in app.environ and app.environ[PRINCIPAL_KEY] is None  # not protected: not read
    assert isinstance(app.environ[REQUEST_KEY], RequestInfo)


def test_a_refused_request_never_reaches_the_app(auth: AuthHooks) -> None:
    app = Recorder()
    mw = AuthHooksWSGIMiddleware(app, auth=auth)
    status, headers, body = call_wsgi(mw, environ_for("GET", b"/x", [(b"authorization", b"Bearer a.b.c")]))
    assert status == 401 and app.environ is None
    assert dict(headers)[b"www-authenticate"].startswith(b'Bearer realm="authhooks", error="invalid_token"')
    assert dict(headers)[b"cache-control"] == b"no-store"
    assert json.loads(body)["error"] == "invalid_token"


def test_head_to_a_route_has_the_headers_and_no_body(auth: AuthHooks) -> None:
    mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth)
    _, get_headers, get_body = call_wsgi(mw, environ_for("GET", b"/auth/jwks.json", []))
    status, head_headers, head_body = call_wsgi(mw, environ_for("HEAD", b"/auth/jwks.json", []))
    assert status == 200 and head_body == b"" and head_headers == get_headers and get_body


# -- wsgi.input -----------------------------------------------------------------------------------------------------


def _login(environ_changes: dict[str, Any], auth: AuthHooks, **options: Any) -> tuple[int, bytes]:
    mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth, **options)
    environ = environ_for("POST", b"/auth/challenge", [(b"content-type", b"application/json")])
    environ.update(environ_changes)
    status, _, body = call_wsgi(mw, environ)
    return status, body


def test_a_content_length_past_the_limit_is_413_without_reading(auth: AuthHooks) -> None:
    status, _ = _login({"CONTENT_LENGTH": "2000", "wsgi.input": Unreadable()}, auth, max_body_bytes=1024)
    assert status == 413


def test_a_body_shorter_than_its_content_length_is_400(auth: AuthHooks) -> None:
    status, body = _login({"CONTENT_LENGTH": "50", "wsgi.input": io.BytesIO(b'{"subject": "a"}')}, auth)
    assert status == 400 and json.loads(body)["error_description"].startswith("The request body ended")


def test_only_content_length_bytes_are_read(auth: AuthHooks) -> None:
    stream = io.BytesIO(b'{"subject": "abc"}' + b"garbage the server keeps for the next request")
    status, body = _login({"CONTENT_LENGTH": "18", "wsgi.input": stream}, auth)
    assert status == 200 and json.loads(body)["subject"] == "abc"
    assert stream.tell() == 18


def test_without_content_length_the_body_is_empty_unless_the_input_is_terminated(auth: AuthHooks) -> None:
    status, body = _login({"wsgi.input": Unreadable()}, auth)
    assert status == 400 and b"not valid JSON" in body  # an empty body (nothing was read): not JSON
    chunked = io.BytesIO(b'{"subject": "chunked"}')
    status, body = _login({"wsgi.input": chunked, "wsgi.input_terminated": True}, auth)
    assert status == 200 and json.loads(body)["subject"] == "chunked"
    status, _ = _login(
        {"wsgi.input": io.BytesIO(b"x" * 5000), "wsgi.input_terminated": True}, auth, max_body_bytes=1024
    )
    assert status == 413


@pytest.mark.parametrize("length", ["abc", "-1", "1" * 20, "5,6"])
def test_a_malformed_content_length_is_400(auth: AuthHooks, length: str) -> None:
    status, body = _login({"CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(b"{}")}, auth)
    assert status == 400, body


# -- observe mode ---------------------------------------------------------------------------------------------------


def test_observe_replays_the_body_with_its_length_and_notifies_after_the_response(auth: AuthHooks) -> None:
    seen: list[tuple[str, Any]] = []
    auth.add_hook("login.pre", lambda subject: seen.append(("pre", subject)))
    auth.add_hook("login.post", lambda subject: seen.append(("post", subject)))
    auth.add_hook("request.post", lambda status_code: seen.append(("request.post", status_code)))
    app = Recorder()
    mw = AuthHooksWSGIMiddleware(
        app,
        auth=auth,
        protect=["/api/**"],
        observe=[ObservedRoute("/login", flow="login", identifier_field="username")],
    )
    payload = b'{"username": "carol", "password": "pw"}'
    environ = environ_for("POST", b"/login", [(b"content-type", b"application/json")], payload)
    environ["CONTENT_LENGTH"] = str(len(payload))
    status, _, body = call_wsgi(mw, environ)
    assert status == 200 and body == b"app"
    assert app.body == payload and app.environ is not None and app.environ["CONTENT_LENGTH"] == str(len(payload))
    assert seen == [("pre", "carol"), ("post", "carol"), ("request.post", 200)]


def test_observe_denial_stops_the_app_and_a_big_body_is_413(auth: AuthHooks) -> None:
    auth.add_hook("login.pre", lambda subject: Deny(429, "rate_limited") if subject == "mallory" else None)
    app = Recorder()
    observe = [ObservedRoute("/login", flow="login", identifier_field="username")]
    mw = AuthHooksWSGIMiddleware(app, auth=auth, public_paths=["/login"], max_body_bytes=64, observe=observe)
    payload = b'{"username": "mallory"}'
    environ = environ_for("POST", b"/login", [(b"content-type", b"application/json")], payload)
    environ["CONTENT_LENGTH"] = str(len(payload))
    assert call_wsgi(mw, environ)[0] == 429 and app.environ is None
    environ = environ_for("POST", b"/login", [], b"x" * 100)
    environ.update(CONTENT_LENGTH="100", **{"wsgi.input": Unreadable()})
    assert call_wsgi(mw, environ)[0] == 413 and app.environ is None


# -- start-up, shutdown, async hooks --------------------------------------------------------------------------------


def test_keys_are_prepared_at_build_and_strict_startup_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    down = make_auth(tmp_path, secret=None, jwks_url="http://127.0.0.1:9/jwks.json")
    with caplog.at_level(logging.WARNING, logger="authhooks"):
        AuthHooksWSGIMiddleware(Recorder(), auth=down).close()
    assert any("start-up check failed" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_STRICT_STARTUP"):
        AuthHooksWSGIMiddleware(
            Recorder(),
            auth=make_auth(tmp_path / "b", secret=None, jwks_url="http://127.0.0.1:9/j"),
            strict_startup=True,
        )


def test_close_drains_background_hooks_once_and_is_registered_at_exit(
    auth: AuthHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr("atexit.register", registered.append)
    monkeypatch.setattr("atexit.unregister", registered.remove)
    done: list[str] = []
    auth.add_hook("validate_token.failed", lambda reason: done.append(reason), background=True)
    mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth)
    assert registered == [mw.close]
    call_wsgi(mw, environ_for("GET", b"/x", [(b"authorization", b"Bearer a.b.c")]))
    mw.close()
    assert done == ["malformed_token"] and registered == []
    mw.close()  # once


def test_async_hooks_are_refused_at_build_naming_the_hook(auth: AuthHooks) -> None:
    async def notify(principal: Principal) -> None:
        return None

    auth.add_hook("validate_token.post", notify, name="webhook")
    with pytest.raises(ConfigurationError, match=r"'webhook' at validate_token\.post is async"):
        AuthHooksWSGIMiddleware(Recorder(), auth=auth)


def test_async_conditions_are_refused_too(auth: AuthHooks) -> None:
    AuthHooksWSGIMiddleware(Recorder(), auth=auth)

    async def when() -> bool:
        return True

    with pytest.raises(ConfigurationError, match="is async"):
        auth.add_hook("validate_token.post", lambda: None, when=when, name="conditional")


# -- telemetry ------------------------------------------------------------------------------------------------------


def test_instrument_wsgi_nests_flows_under_the_server_span_and_masks_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with InMemoryTelemetry() as telemetry:
        monkeypatch.setattr("opentelemetry.trace.get_tracer_provider", lambda: telemetry.tracer_provider)
        auth = make_auth(tmp_path, telemetry=False, observers=[telemetry.observer()])
        mw = AuthHooksWSGIMiddleware(Recorder(), auth=auth, instrument_wsgi=True)
        bearer = token(auth)
        environ = environ_for("GET", b"/api/me", [(b"authorization", bearer)], query=b"access_token=" + bearer[7:])
        assert call_wsgi(mw, environ)[0] == 200
        mw.close()
        (server,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
        attributes = dict(server.attributes or {})
        assert any(key.startswith("authhooks.") for key in attributes)  # the flow recorded onto the server span
        assert bearer[7:].decode() not in json.dumps({k: str(v) for k, v in attributes.items()})
