"""The FastAPI path as a newcomer meets it (issue 14 items 3 and 4): ``install(app, auth)``, the OpenAPI document
it produces, Swagger UI's "Authorize" flow driven through that document (in process and through real uvicorn),
the login route's OAuth2 answers, one 403 body shape, and dependencies used without the middleware."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI

from authhooks import AuthHooks, ConfigurationError, TokenPair
from authhooks.integrations import fastapi as fastapi_integration
from authhooks.integrations.fastapi import CurrentPrincipal, install, require_scopes

HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # cheap parameters: a test, not a server
USERS = {"alice": HASHER.hash("correct horse"), "root": HASHER.hash("root password")}
SCOPES = {"alice": "read", "root": "read admin reports"}


def make_auth(tmp_path: Path) -> AuthHooks:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)

    @auth.hook("login.provide", name="check_password")
    def check_password(subject: str, credentials: Any, scheme: str) -> str | bool | None:
        if scheme != "password":
            return None
        stored = USERS.get(subject)
        if stored is None:
            return False
        try:
            HASHER.verify(stored, credentials.get("password", ""))
        except VerificationError:
            return False
        return subject

    @auth.hook("login.verified", name="grant_scopes")
    def grant_scopes(subject: str) -> dict[str, Any]:
        return {"scopes": SCOPES.get(subject, "")}

    return auth


def build(auth: AuthHooks, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"public": True}

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/reports")
    async def reports() -> dict[str, bool]:  # guarded by the middleware only (required_scopes)
        return {"reports": True}

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:  # guarded by the middleware only (protect)
        return {"item": item_id}

    options.setdefault("public_paths", ["/public"])
    options.setdefault("required_scopes", {"/reports": ["reports"], "/admin": ["admin"]})
    install(app, auth, **options)
    return app


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = make_auth(tmp_path)
    yield engine
    await engine.aclose()


def client(app: Any, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


# -- the OpenAPI document ---------------------------------------------------------------------------------------


async def test_the_openapi_document_shows_the_auth_routes_the_scheme_and_the_refusals(auth: AuthHooks) -> None:
    async with client(build(auth)) as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    for route in ("challenge", "login", "refresh", "logout", "revoke", "introspect"):
        assert "post" in paths[f"/auth/{route}"], route
    assert "get" in paths["/auth/jwks.json"]

    login = paths["/auth/login"]["post"]
    form = login["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {
        "oneOf": [
            {"$ref": "#/components/schemas/AuthHooksPasswordGrant"},
            {"$ref": "#/components/schemas/AuthHooksChallengeLogin"},
        ]
    }
    ok = login["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AuthHooksTokenResponse"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["AuthHooksPasswordGrant"]["required"]) == {"grant_type", "username", "password"}
    assert set(schemas["AuthHooksTokenResponse"]["required"]) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
    }
    assert "invalid_grant" in login["responses"]["400"]["description"]

    scheme = doc["components"]["securitySchemes"]["OAuth2Password"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/login"
    assert scheme["flows"]["password"]["refreshUrl"] == "/auth/refresh"
    assert set(scheme["flows"]["password"]["scopes"]) == {"admin", "reports", "introspect"}

    # Protected by a dependency, by the middleware's protect, by its required_scopes; the public path is not.
    assert paths["/me"]["get"]["security"] == [{"AuthHooksBearer": []}, {"OAuth2Password": []}]
    assert set(paths["/me"]["get"]["responses"]) == {"200", "401"}
    assert paths["/admin"]["get"]["security"] == [{"AuthHooksBearer": ["admin"]}, {"OAuth2Password": ["admin"]}]
    assert {"401", "403"} <= set(paths["/admin"]["get"]["responses"])
    assert paths["/reports"]["get"]["security"] == [{"OAuth2Password": ["reports"]}]
    assert {"401", "403"} <= set(paths["/reports"]["get"]["responses"])
    assert paths["/items/{item_id}"]["get"]["security"] == [{"OAuth2Password": []}]
    assert "401" in paths["/items/{item_id}"]["get"]["responses"]
    assert "403" not in paths["/items/{item_id}"]["get"]["responses"]
    assert "security" not in paths["/public"]["get"]
    assert "401" not in paths["/public"]["get"]["responses"]
    unauthorized = paths["/me"]["get"]["responses"]["401"]
    assert unauthorized["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AuthHooksError"}
    assert "WWW-Authenticate" in unauthorized["headers"]


async def test_docs_are_public_by_default_under_protect_everything(auth: AuthHooks) -> None:
    async with client(build(auth)) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            r = await c.get(path)
            assert r.status_code == 200, path
        r = await c.get("/me")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="authhooks"'


async def test_docs_can_be_kept_behind_a_token(auth: AuthHooks) -> None:
    async with client(build(auth, docs_public=False)) as c:
        for path in ("/docs", "/openapi.json"):
            r = await c.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == 'Bearer realm="authhooks"'


# -- Swagger's "Authorize" --------------------------------------------------------------------------------------


def password_flow(doc: dict[str, Any]) -> dict[str, Any]:
    """What Swagger UI reads to offer "Authorize": the oauth2 scheme's password flow."""
    schemes = doc["components"]["securitySchemes"]
    (flow,) = [s["flows"]["password"] for s in schemes.values() if s["type"] == "oauth2"]
    return dict(flow)


async def test_swagger_authorize_gets_a_token_and_calls_a_protected_operation(auth: AuthHooks) -> None:
    async with client(build(auth)) as c:
        flow = password_flow((await c.get("/openapi.json")).json())
        # Swagger UI's password flow: a form post to tokenUrl (scope empty when none is ticked).
        form = {"grant_type": "password", "username": "root", "password": "root password", "scope": ""}
        r = await c.post(flow["tokenUrl"], data=form)
        assert r.status_code == 200, r.text
        tokens = r.json()
        assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("ahr_")
        assert tokens["scope"] == "admin read reports"
        bearer = {"Authorization": f"{tokens['token_type']} {tokens['access_token']}"}
        assert (await c.get("/me", headers=bearer)).json() == {"subject": "root"}
        assert (await c.get("/admin", headers=bearer)).json() == {"admin": True}
        assert (await c.get("/reports", headers=bearer)).json() == {"reports": True}
        # The refreshUrl works with the refresh token it handed out.
        r = await c.post(
            flow["refreshUrl"], data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 200 and r.json()["access_token"] != tokens["access_token"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The installed app on real uvicorn, 127.0.0.1, a free port (in a thread of this process)."""
    auth = make_auth(tmp_path)
    config = uvicorn.Config(build(auth), host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn-first-hour", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(15)


@pytest.mark.slow
def test_swagger_authorize_through_uvicorn(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as c:
        assert c.get("/docs").status_code == 200
        flow = password_flow(c.get("/openapi.json").json())
        r = c.post(flow["tokenUrl"], data={"grant_type": "password", "username": "alice", "password": "correct horse"})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        r = c.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == {"subject": "alice"}
        r = c.get("/admin", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
        r = c.post(flow["tokenUrl"], data={"grant_type": "password", "username": "alice", "password": "wrong"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


# -- the login route's answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "alice", "password": "wrong"},
        {"grant_type": "password", "username": "nobody", "password": "correct horse"},
    ],
)
async def test_a_failed_password_login_is_400_invalid_grant(auth: AuthHooks, form: dict[str, str]) -> None:
    async with client(build(auth)) as c:
        r = await c.post("/auth/login", data=form)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "The credentials are invalid."}
    assert "www-authenticate" not in r.headers and r.headers["cache-control"] == "no-store"


async def test_a_failed_challenge_login_is_400_invalid_grant(auth: AuthHooks) -> None:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    subject = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
    async with client(build(auth)) as c:
        challenge = (await c.post("/auth/challenge", json={"subject": subject})).json()
        bad = base64.urlsafe_b64encode(b"\x00" * 64).rstrip(b"=").decode()
        r = await c.post("/auth/login", json={"subject": subject, "challenge": challenge["nonce"], "signature": bad})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "The credentials are invalid."}


async def test_the_login_route_names_what_is_wrong_with_a_grant(tmp_path: Path, auth: AuthHooks) -> None:
    async with client(build(auth)) as c:
        r = await c.post("/auth/login", data={"grant_type": "client_credentials"})
        assert r.status_code == 400
        assert r.json() == {
            "error": "unsupported_grant_type",
            "error_description": "Only the password grant type or a signed challenge is accepted here.",
        }
        r = await c.post("/auth/login", data={"grant_type": "password", "username": "alice"})
        assert r.status_code == 400
        assert r.json() == {"error": "invalid_request", "error_description": "The request is missing `password`."}
    bare = AuthHooks(store_url="memory://", state_dir=tmp_path / "bare", telemetry=False)
    try:
        async with client(build(bare)) as c:  # no login.provide hook checks passwords
            r = await c.post("/auth/login", data={"grant_type": "password", "username": "a", "password": "b"})
    finally:
        await bare.aclose()
    assert r.status_code == 400
    assert r.json() == {
        "error": "unsupported_grant_type",
        "error_description": "The password grant needs a login.provide hook that checks passwords.",
    }


# -- one 403 body ----------------------------------------------------------------------------------------------


async def test_the_dependency_and_the_middleware_answer_403_alike(auth: AuthHooks) -> None:
    """/reports is refused by the middleware (required_scopes), /only-dependency by require_scopes alone."""
    app = build(auth, required_scopes={"/reports": ["admin"]})

    @app.get("/only-dependency", dependencies=[require_scopes("admin")])
    async def only_dependency() -> dict[str, bool]:
        return {"ok": True}

    pair = await auth.login("alice", {"password": "correct horse"}, scheme="password")
    bearer = {"Authorization": f"Bearer {pair.access_token}"}
    async with client(app) as c:
        by_middleware = await c.get("/reports", headers=bearer)
        by_dependency = await c.get("/only-dependency", headers=bearer)
    assert by_middleware.status_code == by_dependency.status_code == 403
    assert by_dependency.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token does not grant the required scope.",
    }
    assert by_dependency.content == by_middleware.content
    for header in ("content-type", "www-authenticate", "cache-control"):
        assert by_dependency.headers[header] == by_middleware.headers[header], header


# -- dependencies without the middleware ------------------------------------------------------------------------


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


MISSING = (
    "authhooks: /me uses CurrentPrincipal/require_scopes but AuthHooksMiddleware did not handle the request "
    "(no scope['authhooks']). Add it: authhooks.integrations.fastapi.install(app, auth), or "
    "app.add_middleware(AuthHooksMiddleware, auth=auth); or bind an instance: AuthHooksSecurity(auth)."
)


async def test_a_dependency_without_the_middleware_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastapi_integration._default, "_reported_missing", False)  # once per process: start afresh
    app = bare_app()
    caplog.set_level(logging.ERROR, logger="authhooks.integrations.fastapi")
    async with client(app) as c:
        with pytest.raises(ConfigurationError) as raised:
            await c.get("/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert str(raised.value) == MISSING
    async with client(app, raise_app_exceptions=False) as c:
        for _ in range(3):
            r = await c.get("/me")
            assert r.status_code == 500  # a server mistake, not the client's 401
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "authhooks.integrations.fastapi"]
    assert logged == [MISSING]  # logged once, not per request


TYPED_USE = """\
from authhooks import AuthHooks, TokenPair


async def rotate(auth: AuthHooks) -> TokenPair:
    pair = await auth.login("alice", {"password": "x"}, scheme="password")
    return await auth.refresh_token(pair.refresh_token)  # the README's line
"""


@pytest.mark.slow
def test_the_readme_refresh_line_passes_mypy_strict(tmp_path: Path) -> None:
    (tmp_path / "use.py").write_text(TYPED_USE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "use.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_token_pair_from_a_login_always_has_its_refresh_token() -> None:
    pair = TokenPair(access_token="a", expires_in=60, refresh_token="ahr_x")
    assert pair.as_dict() == {"access_token": "a", "token_type": "Bearer", "expires_in": 60, "refresh_token": "ahr_x"}
    legacy = TokenPair("a", 60, None)  # type: ignore[arg-type]  # the earlier `str | None` still works at run time
    assert legacy.refresh_token == "" and "refresh_token" not in legacy.as_dict()
