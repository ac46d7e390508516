"""The FastAPI dependencies on their own: a stand-in for the middleware stores (or not) a principal in the scope."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Security

from authhooks.events import Principal
from authhooks.integrations.fastapi import (
    AuthHooksBearer,
    AuthHooksSecurity,
    CurrentPrincipal,
    OptionalPrincipal,
    current_principal,
    require_scopes,
)

SERVICE = AuthHooksSecurity(scheme=AuthHooksBearer(scheme_name="ServiceToken"))
ServicePrincipal = SERVICE.CurrentPrincipal  # module level: FastAPI resolves annotations in module globals

ALICE = Principal("alice", claims={"sub": "alice"}, scopes=frozenset({"read"}))
ROOT = Principal("root", scopes=frozenset({"read", "admin"}))


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/maybe")
    async def maybe(principal: OptionalPrincipal) -> dict[str, str | None]:
        return {"subject": principal.subject if principal else None}

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @app.get("/admin-principal")
    async def admin_principal(principal: Annotated[Principal, require_scopes("admin", "read")]) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/security")
    async def security(
        principal: Annotated[Principal, Security(current_principal, scopes=["admin"])],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/open")
    async def open_route() -> dict[str, bool]:
        return {"open": True}

    return app


def stand_in(app: Any, principal: Principal | None) -> Any:
    """What the middleware does for these dependencies: store the principal (``None`` when anonymous) under
    scope["authhooks"] for every request it passes."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["authhooks"] = {"principal": principal}
        await app(scope, receive, send)

    return wrapped


@pytest.fixture
def app() -> FastAPI:
    return build_app()


async def get(app: Any, path: str, principal: Principal | None, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=stand_in(app, principal))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, **kwargs)


async def test_current_principal_returns_the_stored_principal(app: FastAPI) -> None:
    response = await get(app, "/me", ALICE)
    assert response.status_code == 200
    assert response.json() == {"subject": "alice"}


async def test_anonymous_request_gets_401_with_a_bare_bearer_challenge(app: FastAPI) -> None:
    response = await get(app, "/me", None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="authhooks"'


async def test_a_token_nobody_validated_is_refused_not_ignored(app: FastAPI) -> None:
    response = await get(app, "/me", None, headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "abc.def.ghi" not in response.text


async def test_optional_principal_is_none_when_anonymous(app: FastAPI) -> None:
    assert (await get(app, "/maybe", None)).json() == {"subject": None}
    assert (await get(app, "/maybe", ALICE)).json() == {"subject": "alice"}


@pytest.mark.parametrize("path", ["/admin", "/admin-principal", "/security"])
async def test_missing_scope_is_403_insufficient_scope_with_the_scope_named(app: FastAPI, path: str) -> None:
    response = await get(app, path, ALICE)
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="authhooks", error="insufficient_scope"')
    assert 'scope="admin' in challenge


@pytest.mark.parametrize("path", ["/admin", "/admin-principal", "/security"])
async def test_granted_scope_passes(app: FastAPI, path: str) -> None:
    response = await get(app, path, ROOT)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/admin", "/admin-principal"])
async def test_scope_check_on_anonymous_request_is_401_not_403(app: FastAPI, path: str) -> None:
    assert (await get(app, path, None)).status_code == 401


def test_openapi_declares_the_bearer_scheme_and_the_scopes(app: FastAPI) -> None:
    schema = app.openapi()
    scheme = schema["components"]["securitySchemes"]["AuthHooksBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    paths = schema["paths"]
    assert paths["/me"]["get"]["security"] == [{"AuthHooksBearer": []}]
    assert paths["/admin"]["get"]["security"] == [{"AuthHooksBearer": ["admin"]}]
    assert paths["/admin-principal"]["get"]["security"] == [{"AuthHooksBearer": ["admin", "read"]}]
    assert paths["/security"]["get"]["security"] == [{"AuthHooksBearer": ["admin"]}]
    assert "security" not in paths["/open"]["get"]


def test_require_scopes_needs_a_scope() -> None:
    with pytest.raises(ValueError, match="at least one scope"):
        require_scopes()


async def test_a_bound_security_set_uses_its_own_scheme_name() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(principal: ServicePrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    assert app.openapi()["paths"]["/me"]["get"]["security"] == [{"ServiceToken": []}]
    assert (await get(app, "/me", ALICE)).json() == {"subject": "alice"}
