"""The FastAPI dependencies behind the real ``AuthHooksMiddleware``: principal, scopes through ``authorize``
hooks, the fallback validation on routes the middleware does not protect, and the Starlette helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from authhooks import AuthHooks, Deny
from authhooks.integrations.fastapi import CurrentPrincipal, OptionalPrincipal, require_scopes
from authhooks.integrations.starlette import auth_of, principal_of
from authhooks.middleware import AuthHooksMiddleware


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    yield engine
    await engine.aclose()


def build(auth: AuthHooks) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "user": request.user.identity,
            "same": principal_of(request) is principal,
            "auth": auth_of(request) is auth,
        }

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/open/me")
    async def open_me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/open/maybe")
    async def open_maybe(principal: OptionalPrincipal) -> dict[str, str | None]:
        return {"subject": principal.subject if principal else None}

    app.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/me", "/admin"])
    return app


async def token_for(auth: AuthHooks, subject: str = "alice", scope: str | None = None) -> str:
    issued = await auth.issue_token(subject, {"scope": scope} if scope else None)
    return issued.token


async def call(auth: AuthHooks, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(auth)), base_url="http://t") as client:
        return await client.get(path, headers=headers)


async def test_the_dependency_hands_over_the_middleware_principal(auth: AuthHooks) -> None:
    response = await call(auth, "/me", await token_for(auth))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "user": "alice", "same": True, "auth": True}


async def test_scopes_are_checked_by_the_authorize_flow(auth: AuthHooks) -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []

    @auth.hook("authorize.failed")
    def record(principal: Any, required_scopes: tuple[str, ...], reason: str) -> None:
        seen.append((reason, tuple(required_scopes)))

    denied = await call(auth, "/admin", await token_for(auth, scope="read"))
    granted = await call(auth, "/admin", await token_for(auth, scope="read admin"))
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        'Bearer realm="authhooks", error="insufficient_scope", '
        'error_description="The access token does not grant the required scope.", scope="admin"'
    )
    assert granted.status_code == 200
    assert seen == [("insufficient_scope", ("admin",))]


async def test_an_authorize_pre_hook_can_grant_or_deny(auth: AuthHooks) -> None:
    @auth.hook("authorize.pre")
    def staff_are_admins(principal: Any) -> Deny | dict[str, bool] | None:
        if principal.subject == "staff":
            return {"granted": True}
        if principal.subject == "mallory":
            return Deny(status=429, reason="slow_down", headers={"Retry-After": "7"})
        return None

    assert (await call(auth, "/admin", await token_for(auth, "staff"))).status_code == 200
    limited = await call(auth, "/admin", await token_for(auth, "mallory"))
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert (await call(auth, "/admin", await token_for(auth, "bob"))).status_code == 403


async def test_a_route_the_middleware_leaves_open_still_validates_a_token(auth: AuthHooks) -> None:
    assert (await call(auth, "/open/me", await token_for(auth))).json() == {"subject": "alice"}
    bad = await call(auth, "/open/me", "not.a.token")
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    anonymous = await call(auth, "/open/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="authhooks"'


async def test_optional_principal_on_an_open_route(auth: AuthHooks) -> None:
    assert (await call(auth, "/open/maybe")).json() == {"subject": None}
    assert (await call(auth, "/open/maybe", await token_for(auth))).json() == {"subject": "alice"}
    assert (await call(auth, "/open/maybe", "not.a.token")).status_code == 401


async def test_a_revoked_token_is_refused_on_a_protected_route(auth: AuthHooks) -> None:
    token = await token_for(auth)
    assert (await call(auth, "/me", token)).status_code == 200
    await auth.invalidate_token(token)
    refused = await call(auth, "/me", token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert token not in refused.text
