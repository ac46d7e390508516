"""authhooks as an issuer, checked by other people's code over real HTTP (issue 13, "Done when").

A real uvicorn server on 127.0.0.1 serves an app behind ``AuthHooksMiddleware`` whose ``AUTHHOOKS_ISSUER`` is the
server's own URL, signing with an Ed25519, RSA or P-256 key. Against it:

- Authlib's OAuth2 client (``authlib.integrations.httpx_client.OAuth2Client``) introspects and revokes with
  ``client_secret_basic`` and ``client_secret_post`` (RFC 7662, RFC 7009);
- PyJWT's ``PyJWKClient`` and joserfc verify its tokens with the ``jwks_uri`` of its discovery document;
- a second ``AuthHooks`` configured with ``AUTHHOOKS_OIDC_ISSUER`` = the first one's URL discovers it and
  validates its tokens through its own middleware, and refuses a token signed by a third issuer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.clients import MIN_ITERATIONS, hash_client_secret
from authhooks.middleware import AuthHooksMiddleware

pytestmark = pytest.mark.slow

CLIENT_ID = "orders-api"
CLIENT_SECRET = "s3cr:et with spaces+%"  # RFC 6749 §2.3.1 form-encoding matters for this one
KEY_KINDS = {
    "Ed25519": (lambda: ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    "RSA": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
    "P-256": (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
}


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.scope["authhooks"]["principal"].subject})


@dataclass
class Issuer:
    url: str
    auth: AuthHooks
    alg: str


class _Uvicorn:
    """uvicorn in a thread on a socket bound before the app is built (the issuer URL names its port)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def start(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


def _pem(key: Any) -> bytes:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return data


@pytest.fixture(params=list(KEY_KINDS), scope="module")
def issuer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    make_key, alg = KEY_KINDS[request.param]
    home = tmp_path_factory.mktemp(f"issuer-{request.param}")
    (home / "signing.pem").write_bytes(_pem(make_key()))
    clients = {
        "clients": [
            {"client_id": CLIENT_ID, "secret_hash": hash_client_secret(CLIENT_SECRET, iterations=MIN_ITERATIONS)}
        ]
    }
    (home / "clients.json").write_text(json.dumps(clients))
    server = _Uvicorn()
    auth = AuthHooks(
        issuer=server.url,
        signing_key_file=home / "signing.pem",
        clients_file=home / "clients.json",
        store_url="memory://",
        state_dir=home,
        telemetry=False,
    )
    app = Starlette(routes=[Route("/api/whoami", whoami)])
    server.start(AuthHooksMiddleware(app, auth=auth, protect=["/api/**"]))
    try:
        yield Issuer(server.url, auth, alg)
    finally:
        server.stop()


def issue(issuer: Issuer, subject: str = "alice", scope: str = "read") -> str:
    return issuer.auth.sync.issue_token(subject, {"scope": scope}).token


def discovery(issuer: Issuer) -> dict[str, Any]:
    r = httpx.get(f"{issuer.url}/.well-known/openid-configuration")
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    doc: dict[str, Any] = r.json()
    assert doc["issuer"] == issuer.url
    return doc


# -- Authlib: introspection and revocation with client credentials -------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_introspects_and_revokes(issuer: Issuer, method: str) -> None:
    with warnings.catch_warnings(record=True):  # its import warns: Authlib deprecates its httpx module (httpx2)
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client

    doc = httpx.get(f"{issuer.url}/.well-known/oauth-authorization-server").json()
    assert method in doc["introspection_endpoint_auth_methods_supported"]
    assert method in doc["revocation_endpoint_auth_methods_supported"]
    access = issue(issuer)
    options = {"token_endpoint_auth_method": method, "revocation_endpoint_auth_method": method}
    with OAuth2Client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options) as oauth:
        r = oauth.introspect_token(doc["introspection_endpoint"], token=access, token_type_hint="access_token")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["active"] is True and body["sub"] == "alice" and body["iss"] == issuer.url
        assert body["scope"] == "read"
        assert body["token_type"] == "Bearer"  # RFC 7662 §2.2: the RFC 6749 §7.1 type
        r = oauth.revoke_token(doc["revocation_endpoint"], token=access, token_type_hint="access_token")
        assert r.status_code == 200
        r = oauth.introspect_token(doc["introspection_endpoint"], token=access)
        assert r.json() == {"active": False}
    with OAuth2Client(client_id=CLIENT_ID, client_secret="wrong", **options) as oauth:
        r = oauth.introspect_token(doc["introspection_endpoint"], token=issue(issuer))
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        assert r.headers["www-authenticate"].startswith("Basic realm=")
    assert httpx.get(f"{issuer.url}/api/whoami", headers={"authorization": f"Bearer {access}"}).status_code == 401


# -- PyJWT and joserfc: keys from the discovery document ------------------------------------------------------


def test_pyjwt_verifies_tokens_with_the_discovered_jwks_uri(issuer: Issuer) -> None:
    doc = discovery(issuer)
    assert doc["id_token_signing_alg_values_supported"] == [issuer.alg]
    access = issue(issuer)
    key = jwt.PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(access)
    claims = jwt.decode(
        access,
        key,
        algorithms=doc["id_token_signing_alg_values_supported"],
        issuer=doc["issuer"],
        options={"require": ["exp", "iat", "sub", "jti"]},
    )
    assert claims["sub"] == "alice" and claims["scope"] == "read"
    assert jwt.get_unverified_header(access)["typ"] == "at+jwt"
    head, _, signature = access.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "mallory"}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged}.{signature}", key, algorithms=[issuer.alg], issuer=doc["issuer"])


def test_joserfc_verifies_tokens_with_the_discovered_jwks_uri(issuer: Issuer) -> None:
    from joserfc import jwt as jose_jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import KeySet

    doc = discovery(issuer)
    keys = KeySet.import_key_set(httpx.get(doc["jwks_uri"]).json())
    access = issue(issuer)
    with warnings.catch_warnings():
        # Recent joserfc warns that RFC 9864 deprecates the polymorphic "EdDSA" (for "Ed25519"), and verifies.
        warnings.filterwarnings("ignore", message=".*RFC 9864")
        token = jose_jwt.decode(access, keys, algorithms=doc["id_token_signing_alg_values_supported"])
        tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
        with pytest.raises(BadSignatureError):
            jose_jwt.decode(tampered, keys, algorithms=[issuer.alg])
    assert token.header["alg"] == issuer.alg and token.header["kid"]
    jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": doc["issuer"]}, sub={"essential": True}).validate(
        token.claims
    )


# -- a second authhooks discovers the first -------------------------------------------------------------------


def test_a_second_authhooks_discovers_the_first_and_validates_its_tokens(issuer: Issuer, tmp_path: Path) -> None:
    """Resource-server mode against authhooks itself: only the issuer URL is configured (no key, no JWKS URL)."""

    async def run() -> None:
        second = AuthHooks(oidc_issuer=issuer.url, store_url="memory://", state_dir=tmp_path / "rs", telemetry=False)
        other = AuthHooks(store_url="memory://", state_dir=tmp_path / "other", issuer=issuer.url, telemetry=False)
        try:
            app = AuthHooksMiddleware(Starlette(routes=[Route("/api/whoami", whoami)]), auth=second, routes=False)
            transport = httpx.ASGITransport(app)
            async with httpx.AsyncClient(transport=transport, base_url="http://rs.test") as c:
                access = issue(issuer, "bob")
                r = await c.get("/api/whoami", headers={"authorization": f"Bearer {access}"})
                assert r.status_code == 200, r.text
                assert r.json() == {"sub": "bob"}
                principal = await second.validate_token(access)
                assert principal.subject == "bob" and principal.claims["iss"] == issuer.url
                # The same iss, a key the issuer never published (a third authhooks): refused.
                foreign = (await other.issue_token("bob", {"scope": "read"})).token
                r = await c.get("/api/whoami", headers={"authorization": f"Bearer {foreign}"})
                assert r.status_code == 401
        finally:
            await second.aclose()
            await other.aclose()

    asyncio.run(run())
