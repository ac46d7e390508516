"""The Flask integration: init_app installs the WSGI middleware, current_principal, @require_scopes, and the
refusal of async hooks on a WSGI stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from authhooks import AuthHooks, ConfigurationError, HookError, Principal, Secret
from authhooks.integrations.flask import current_principal, init_app, require_scopes
from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthHooks]:
    engine = AuthHooks(
        secret=Secret(b"flask-test-secret-0123456789abcdef01"), store_url="memory://", state_dir=tmp_path
    )
    yield engine
    engine.close()


def make(auth: AuthHooks, **options: Any) -> Flask:
    app = Flask(__name__)
    init_app(app, auth, protect=["/api/**"], **options)

    @app.get("/api/me")
    def me() -> dict[str, Any]:
        principal = current_principal()
        assert principal is not None
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    @app.get("/open")
    def open_page() -> dict[str, Any]:
        principal = current_principal()
        return {"subject": principal.subject if principal else None}

    @app.get("/api/admin")
    @require_scopes("admin")
    def admin() -> dict[str, Any]:
        principal = current_principal()
        assert principal is not None
        return {"admin": principal.subject}

    @app.get("/report")  # not protected by the middleware: the decorator reads the token itself
    @require_scopes(["read", "report"])
    def report() -> dict[str, Any]:
        principal = current_principal()
        assert principal is not None
        return {"reader": principal.subject}

    return app


def bearer(auth: AuthHooks, subject: str, scope: str) -> dict[str, str]:
    return {"authorization": f"Bearer {auth.sync.issue_token(subject, {'scope': scope}).token}"}


def client(app: Flask) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app), base_url="http://testserver")


def test_init_app_protects_and_hands_the_principal_to_views(auth: AuthHooks) -> None:
    app = make(auth)
    assert isinstance(app.extensions["authhooks"], AuthHooksWSGIMiddleware)
    with client(app) as c:
        r = c.get("/api/me")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="authhooks"'
        r = c.get("/api/me", headers=bearer(auth, "alice", "read write"))
        assert r.status_code == 200 and r.json() == {"subject": "alice", "scopes": ["read", "write"]}
        assert c.get("/open").json() == {"subject": None}
        assert c.get("/auth/jwks.json").status_code == 200  # the built-in routes


def test_require_scopes_answers_rfc_6750_refusals(auth: AuthHooks) -> None:
    with client(make(auth)) as c:
        r = c.get("/api/admin", headers=bearer(auth, "bob", "read"))
        assert r.status_code == 403
        assert (
            'error="insufficient_scope"' in r.headers["www-authenticate"]
            and 'scope="admin"' in r.headers["www-authenticate"]
        )
        assert r.json()["error"] == "insufficient_scope"
        r = c.get("/api/admin", headers=bearer(auth, "root", "admin"))
        assert r.status_code == 200 and r.json() == {"admin": "root"}
        assert c.get("/report").status_code == 401
        assert c.get("/report", headers={"authorization": "Bearer not.a.jwt"}).status_code == 401
        assert c.get("/report", headers=bearer(auth, "carol", "read")).status_code == 403
        r = c.get("/report", headers=bearer(auth, "carol", "read report"))
        assert r.status_code == 200 and r.json() == {"reader": "carol"}


def test_require_scopes_runs_authorize_hooks(auth: AuthHooks) -> None:
    seen: list[str] = []

    def record(principal: Principal) -> None:
        seen.append(principal.subject)

    auth.add_hook("authorize.pre", record)
    with client(make(auth)) as c:
        assert c.get("/api/admin", headers=bearer(auth, "root", "admin")).status_code == 200
    assert seen == ["root"]


def test_async_hooks_are_refused_naming_the_hook(auth: AuthHooks) -> None:
    async def audit(principal: Principal) -> None:
        return None

    auth.add_hook("validate_token.post", audit, name="async_audit")
    with pytest.raises(ConfigurationError, match="async_audit"):
        make(auth)


def test_a_later_async_hook_is_refused_too(auth: AuthHooks) -> None:
    make(auth)

    async def late(principal: Principal) -> None:
        return None

    with pytest.raises(HookError, match="late"):
        auth.add_hook("validate_token.post", late)

    def sync_ok(principal: Principal) -> None:
        return None

    auth.add_hook("validate_token.post", sync_ok)  # sync hooks are still welcome


def test_init_app_twice_is_refused(auth: AuthHooks) -> None:
    app = make(auth)
    with pytest.raises(ConfigurationError, match="twice"):
        init_app(app, auth)


def test_require_scopes_without_init_app_is_a_configuration_error() -> None:
    app = Flask(__name__)

    @app.get("/x")
    @require_scopes("a")
    def view() -> str:
        return "never"

    app.config["PROPAGATE_EXCEPTIONS"] = True
    with client(app) as c, pytest.raises(ConfigurationError, match="init_app"):
        c.get("/x")


def test_require_scopes_accepts_the_session_cookie_where_the_session_paths_say(tmp_path: Path) -> None:
    """Off the middleware's protected paths the decorator judges the session cookie as a protected path would:
    on ``session_paths`` only, with its scopes checked."""
    engine = AuthHooks(
        secret=Secret(b"flask-test-secret-0123456789abcdef01"),
        store_url="memory://",
        state_dir=tmp_path,
        sessions=True,
        session_paths=("/report", "/api/**"),
    )
    try:
        reader = engine.sync.create_session(Principal("dana", scopes=frozenset({"read", "report"})))
        other = engine.sync.create_session(Principal("erin", scopes=frozenset({"read"})))
        app = make(engine)

        @app.get("/elsewhere")  # not on session_paths: the cookie is no credential there
        @require_scopes("read")
        def elsewhere() -> dict[str, Any]:
            return {}

        def cookie(grant: Any) -> dict[str, str]:
            return {"cookie": f"__Host-authhooks_session={grant.session_id}"}

        with client(app) as c:
            r = c.get("/report", headers=cookie(reader))
            assert r.status_code == 200 and r.json() == {"reader": "dana"}
            assert c.get("/report", headers=cookie(other)).status_code == 403  # no "report" scope
            assert c.get("/report", headers={"cookie": "__Host-authhooks_session=ahs_unknown"}).status_code == 401
            assert c.get("/elsewhere", headers=cookie(reader)).status_code == 401
            assert c.get("/api/me", headers=cookie(reader)).json()["subject"] == "dana"  # as the middleware does
    finally:
        engine.close()
