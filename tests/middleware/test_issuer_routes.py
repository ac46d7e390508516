"""authhooks as an issuer, through the middleware: client authentication at introspection and revocation
(RFC 6749 §2.3.1, RFC 7662 §2.1, RFC 7009 §2.1) and the metadata documents (RFC 8414, OIDC Discovery), under the
ASGI and the WSGI driver."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from authhooks import AuthHooks, ConfigurationError
from authhooks.clients import MIN_ITERATIONS, hash_client_secret
from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware

from ._support import bearer, client, make_app, make_auth

ISSUER = "https://issuer.example"
SECRETS = {"orders": "orders-secret: with %+ odd chars", "audit": "audit-secret", "revoker": "revoker-secret"}
USES = {"orders": ("introspect", "revoke"), "audit": ("introspect",), "revoker": ("revoke",)}


def clients_file(tmp_path: Path) -> Path:
    import json

    entries = [
        {"client_id": cid, "secret_hash": hash_client_secret(SECRETS[cid], iterations=MIN_ITERATIONS), "uses": uses}
        for cid, uses in USES.items()
    ]
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": entries}))
    return path


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: each half form-urlencoded, then Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[AuthHooks]:
    engine = make_auth(tmp_path, issuer=ISSUER, clients_file=clients_file(tmp_path))
    yield engine
    await engine.aclose()


async def token(auth: AuthHooks, scope: str = "read") -> str:
    return (await auth.issue_token("alice", {"scope": scope})).token


# -- introspection --------------------------------------------------------------------------------------------


async def test_introspection_with_client_secret_basic_and_post(issuer: AuthHooks) -> None:
    subject = await token(issuer)
    async with client(make_app(issuer)) as c:
        r = await c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data={"token": subject})
        assert r.status_code == 200, r.text
        assert r.json()["active"] is True and r.json()["sub"] == "alice" and r.json()["iss"] == ISSUER
        post = {"token": subject, "client_id": "audit", "client_secret": SECRETS["audit"]}
        r = await c.post("/auth/introspect", data=post)
        assert r.status_code == 200 and r.json()["active"] is True
        r = await c.post("/auth/introspect", json=post)  # JSON bodies too
        assert r.status_code == 200 and r.json()["active"] is True
        r = await c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data={"token": "x.y.z"})
        assert r.json() == {"active": False}


@pytest.mark.parametrize(
    "headers_data",
    [
        ({**basic("orders", "wrong")}, {}),
        ({**basic("ghost", SECRETS["orders"])}, {}),
        ({"authorization": "Basic !!!"}, {}),
        ({}, {"client_id": "orders", "client_secret": "wrong"}),
        ({}, {"client_id": "orders"}),
    ],
    ids=["wrong-secret", "unknown-client", "malformed-basic", "wrong-post-secret", "post-without-secret"],
)
async def test_failed_client_authentication_is_401_invalid_client_with_a_basic_challenge(
    issuer: AuthHooks, headers_data: tuple[dict[str, str], dict[str, str]]
) -> None:
    headers, data = headers_data
    subject = await token(issuer)
    async with client(make_app(issuer)) as c:
        r = await c.post("/auth/introspect", headers=headers, data={"token": subject, **data})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.headers.get_list("www-authenticate") == ['Basic realm="authhooks"']  # RFC 6749 §5.2
    assert r.headers["cache-control"] == "no-store"
    assert "wrong" not in r.text and SECRETS["orders"] not in r.text


async def test_a_client_without_the_use_is_unauthorized_client(issuer: AuthHooks) -> None:
    subject = await token(issuer)
    async with client(make_app(issuer)) as c:
        r = await c.post("/auth/introspect", headers=basic("revoker", SECRETS["revoker"]), data={"token": subject})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert "www-authenticate" not in r.headers


async def test_two_methods_in_one_request_are_refused(issuer: AuthHooks) -> None:
    caller = await token(issuer, "introspect")
    async with client(make_app(issuer)) as c:
        both = {"token": caller, "client_secret": SECRETS["orders"]}
        r = await c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data=both)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
        post = {"token": caller, "client_id": "orders", "client_secret": SECRETS["orders"]}
        r = await c.post("/auth/introspect", headers=bearer(caller), data=post)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_bearer_callers_keep_the_scope_rule(issuer: AuthHooks) -> None:
    caller, weak = await token(issuer, "introspect"), await token(issuer, "read")
    async with client(make_app(issuer)) as c:
        r = await c.post("/auth/introspect", headers=bearer(caller), data={"token": weak})
        assert r.status_code == 200 and r.json()["active"] is True
        r = await c.post("/auth/introspect", headers=bearer(weak), data={"token": caller})
        assert r.status_code == 403 and 'scope="introspect"' in r.headers["www-authenticate"]
        r = await c.post("/auth/introspect", data={"token": caller})  # no credentials at all
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = await c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data={})
        assert r.status_code == 400 and "token" in r.json()["error_description"]


# -- revocation -----------------------------------------------------------------------------------------------


async def test_revocation_with_client_credentials(issuer: AuthHooks) -> None:
    first, second, third = await token(issuer), await token(issuer), await token(issuer)
    async with client(make_app(issuer)) as c:
        r = await c.post("/auth/revoke", headers=basic("revoker", SECRETS["revoker"]), data={"token": first})
        assert r.status_code == 200
        assert (await c.get("/api/me", headers=bearer(first))).status_code == 401
        post = {"token": second, "client_id": "orders", "client_secret": SECRETS["orders"]}
        assert (await c.post("/auth/revoke", data=post)).status_code == 200
        assert (await c.get("/api/me", headers=bearer(second))).status_code == 401
        # A client that fails to authenticate revokes nothing; one without the use neither.
        r = await c.post("/auth/revoke", headers=basic("revoker", "wrong"), data={"token": third})
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="authhooks"'
        r = await c.post("/auth/revoke", headers=basic("audit", SECRETS["audit"]), data={"token": third})
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
        assert (await c.get("/api/me", headers=bearer(third))).status_code == 200
        # Without client credentials the route stays public (RFC 7009 allows it; possession is the proof).
        assert (await c.post("/auth/revoke", data={"token": third})).status_code == 200
        assert (await c.get("/api/me", headers=bearer(third))).status_code == 401


# -- metadata documents ---------------------------------------------------------------------------------------


async def test_metadata_documents(issuer: AuthHooks) -> None:
    async with client(make_app(issuer)) as c:
        r = await c.get("/.well-known/oauth-authorization-server", headers={"host": "evil.example"})
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
        doc = r.json()
        assert doc["issuer"] == ISSUER
        assert doc["jwks_uri"] == f"{ISSUER}/auth/jwks.json"  # from the configured issuer, never the Host header
        assert doc["introspection_endpoint"] == f"{ISSUER}/auth/introspect"
        assert doc["revocation_endpoint"] == f"{ISSUER}/auth/revoke"
        assert doc["token_endpoint"] == f"{ISSUER}/auth/refresh"
        assert doc["introspection_endpoint_auth_methods_supported"] == [
            "client_secret_basic",
            "client_secret_post",
            "Bearer",
        ]
        assert doc["id_token_signing_alg_values_supported"] == ["HS256"]  # what the signing key signs with
        r = await c.get("/.well-known/openid-configuration")
        assert r.status_code == 200 and r.json()["subject_types_supported"] == ["public"]
        r = await c.head("/.well-known/openid-configuration")
        assert r.status_code == 200 and r.content == b""
        r = await c.post("/.well-known/openid-configuration")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_the_issuer_path_is_inserted_and_a_custom_prefix_used(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, issuer="https://id.example/tenants/t1", public_url="https://api.example")
    try:
        async with client(make_app(auth, routes_prefix="/oauth2", public_paths=["/.well-known/**"])) as c:
            r = await c.get("/.well-known/oauth-authorization-server/tenants/t1")
            assert r.status_code == 200 and r.json()["issuer"] == "https://id.example/tenants/t1"
            assert r.json()["jwks_uri"] == "https://api.example/oauth2/jwks.json"
            assert r.json()["introspection_endpoint_auth_methods_supported"] == ["Bearer"]  # no clients
            assert (await c.get("/tenants/t1/.well-known/openid-configuration")).status_code == 200
            assert (await c.get("/.well-known/oauth-authorization-server")).status_code == 404  # the app's 404
    finally:
        await auth.aclose()


@pytest.mark.parametrize("issuer_value", [None, "billing-service", "http://auth.internal"])
async def test_no_documents_without_an_acceptable_issuer_url(tmp_path: Path, issuer_value: str | None) -> None:
    auth = make_auth(tmp_path, issuer=issuer_value)
    try:
        async with client(make_app(auth, public_paths=["/.well-known/**"])) as c:  # the app's own 404
            assert (await c.get("/.well-known/oauth-authorization-server")).status_code == 404
            assert (await c.get("/.well-known/openid-configuration")).status_code == 404
    finally:
        await auth.aclose()


def test_a_bad_public_url_or_clients_file_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_PUBLIC_URL"):
        make_auth(tmp_path, issuer=ISSUER, public_url="ftp://x")
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_CLIENTS_FILE"):
        make_auth(tmp_path, clients_file=tmp_path / "missing.json")


# -- the WSGI driver ------------------------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("content-type", "text/plain")])
    return [b"not found"]


def test_the_wsgi_driver_serves_the_same(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, issuer=ISSUER, clients_file=clients_file(tmp_path))
    try:
        subject = auth.sync.issue_token("alice", {"scope": "read"}).token
        app = AuthHooksWSGIMiddleware(wsgi_app, auth=auth)
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://testserver") as c:
            r = c.get("/.well-known/oauth-authorization-server")
            assert r.status_code == 200 and r.json()["jwks_uri"] == f"{ISSUER}/auth/jwks.json"
            assert r.headers["cache-control"] == "public, max-age=300"
            r = c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data={"token": subject})
            assert r.status_code == 200 and r.json()["active"] is True
            r = c.post("/auth/introspect", headers=basic("orders", "wrong"), data={"token": subject})
            assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="authhooks"'
            post = {"token": subject, "client_id": "revoker", "client_secret": SECRETS["revoker"]}
            assert c.post("/auth/revoke", data=post).status_code == 200
            r = c.post("/auth/introspect", headers=basic("orders", SECRETS["orders"]), data={"token": subject})
            assert r.json() == {"active": False}
    finally:
        auth.close()
