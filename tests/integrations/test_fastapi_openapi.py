"""The OpenAPI document of ``install(app, auth)`` shows how the built-in routes are really called: HTTP Basic
client authentication at introspection and revocation when clients are registered, and the well-known metadata
documents when an issuer is configured — and the document's promises hold against the served routes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from authhooks import AuthHooks
from authhooks.clients import MIN_ITERATIONS, hash_client_secret
from authhooks.integrations.fastapi import install

SECRET = "billing-secret-0123456789"


def build(tmp_path: Path, **settings: Any) -> tuple[FastAPI, AuthHooks]:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, **settings)
    app = FastAPI()

    @app.get("/public")
    async def public() -> dict[str, bool]:
        return {"public": True}

    install(app, auth, public_paths=["/public"])
    return app, auth


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://auth.example")


async def test_client_basic_auth_and_the_metadata_routes_are_documented_as_served(tmp_path: Path) -> None:
    stored = hash_client_secret(SECRET, iterations=MIN_ITERATIONS)
    app, auth = build(tmp_path, issuer="https://auth.example", clients=(f"billing:{stored}",))
    async with client(app) as c:
        doc = (await c.get("/openapi.json")).json()
        paths = doc["paths"]

        basic = doc["components"]["securitySchemes"]["AuthHooksClientBasic"]
        assert basic["type"] == "http" and basic["scheme"] == "basic"
        introspect = paths["/auth/introspect"]["post"]
        assert introspect["security"] == [{"OAuth2Password": ["introspect"]}, {"AuthHooksClientBasic": []}]
        revoke = paths["/auth/revoke"]["post"]
        assert revoke["security"] == [{}, {"AuthHooksClientBasic": []}]  # anonymous, or a client
        for operation in (introspect, revoke):
            assert "invalid_client" in operation["responses"]["401"]["description"]
            assert "unauthorized_client" in operation["responses"]["400"]["description"]
            body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
            assert body == {"$ref": "#/components/schemas/AuthHooksClientTokenRequest"}
        assert {"client_id", "client_secret"} <= set(
            doc["components"]["schemas"]["AuthHooksClientTokenRequest"]["properties"]
        )

        # What the document says works: Basic credentials at introspection, a wrong one is invalid_client.
        token = (await auth.issue_token("alice")).token
        good = base64.b64encode(f"billing:{SECRET}".encode()).decode()
        r = await c.post("/auth/introspect", data={"token": token}, headers={"authorization": f"Basic {good}"})
        assert r.status_code == 200 and r.json()["active"] is True
        bad = base64.b64encode(b"billing:wrong").decode()
        r = await c.post("/auth/revoke", data={"token": token}, headers={"authorization": f"Basic {bad}"})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"

        metadata_ref = {"$ref": "#/components/schemas/AuthHooksServerMetadata"}
        required = set(doc["components"]["schemas"]["AuthHooksServerMetadata"]["required"])
        for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            answers = paths[path]["get"]["responses"]
            assert answers["200"]["content"]["application/json"]["schema"] == metadata_ref
            served = await c.get(path)
            assert served.status_code == 200 and required <= set(served.json()), path
            assert "client_secret_basic" in served.json()["introspection_endpoint_auth_methods_supported"]
    await auth.aclose()


async def test_without_clients_or_issuer_neither_is_documented(tmp_path: Path) -> None:
    app, auth = build(tmp_path)
    async with client(app) as c:
        doc = (await c.get("/openapi.json")).json()
        assert "AuthHooksClientBasic" not in doc["components"]["securitySchemes"]
        assert doc["paths"]["/auth/revoke"]["post"].get("security") is None
        assert doc["paths"]["/auth/introspect"]["post"]["security"] == [{"OAuth2Password": ["introspect"]}]
        assert not [p for p in doc["paths"] if p.startswith("/.well-known/")]
        assert (await c.get("/.well-known/openid-configuration")).status_code == 401  # not served: protected
    await auth.aclose()
