"""Resource-server mode against a real OpenID Provider (npm's certified ``oidc-provider`` under Node.js, see
``_oidc_provider.py``), through the ASGI middleware configured with ``AUTHHOOKS_OIDC_ISSUER`` alone (issue 13):

- RS256, PS256, ES256, EdDSA and Ed25519 (RFC 9864) JWT access tokens (RFC 9068) are accepted, from JWKs without
  ``alg`` (the algorithm family inferred from the key type) and with ``alg: Ed25519``;
- a token whose ``iss`` is not the discovered issuer is refused though signed by the issuer's key (RFC 9068 §4,
  OIDC Discovery §4.3), as are tokens re-signed by another key, tampered tokens and ID tokens;
- key rotation is followed: a new ``kid`` is fetched, and a key that leaves the key set evicts the tokens it
  verified from the validated-token cache;
- the IdP down: cached keys are served; down at start: 503 until it returns, then 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from _redis import require_redis
from authhooks import AuthHooks
from authhooks.middleware import AuthHooksMiddleware

from ._oidc_provider import AUDIENCE, CLIENT_ID, OidcProvider, SigningKey, b64url, generate_key, unverified
from ._servers import Instance, two_instances

pytestmark = pytest.mark.slow

PUBLIC_CLIENT = {
    "client_id": "authhooks-spa",
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code"],
    "response_types": ["code"],
    "id_token_signed_response_alg": "EdDSA",
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """One provider for the tests that do not change its keys or stop it."""
    keys = [
        generate_key("rsa", "rsa-1"),
        generate_key("ec", "ec-1"),
        generate_key("ed25519", "ed-1"),
        generate_key("ed25519", "ed-alg", alg="Ed25519"),
    ]
    directory = tmp_path_factory.mktemp("oidc")
    with OidcProvider(directory, keys, extra_clients=[PUBLIC_CLIENT]) as running:
        yield running


@pytest.fixture
def own_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A provider of the test's own, to rotate its keys or stop it."""
    keys = [generate_key("rsa", "rsa-old"), generate_key("ec", "ec-1"), generate_key("ed25519", "ed-1")]
    running = OidcProvider(tmp_path, keys)
    yield running
    running.stop()


async def _me(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.user.identity)


@asynccontextmanager
async def _api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, issuer: str, *, audience: str = AUDIENCE, **extra: str
) -> AsyncIterator[tuple[AuthHooks, httpx.AsyncClient]]:
    """An API protected by the middleware, configured from the environment as a user would (``extra``: more
    ``AUTHHOOKS_*`` variables by lower-case field name)."""
    env = {
        "AUTHHOOKS_OIDC_ISSUER": issuer,
        "AUTHHOOKS_AUDIENCE": audience,
        "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
        "AUTHHOOKS_STORE_URL": "memory://",
        "AUTHHOOKS_TELEMETRY": "false",
        "AUTHHOOKS_ROUTES": "false",
        # every unknown kid or failed fetch may be retried at once: no test waits for a cooldown
        "AUTHHOOKS_JWKS_REFETCH_COOLDOWN_SECONDS": "0",
        **{f"AUTHHOOKS_{name.upper()}": value for name, value in extra.items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    auth = AuthHooks()
    app = AuthHooksMiddleware(Starlette(routes=[Route("/me", _me)]), auth=auth, protect=["/me"])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
            yield auth, client
    finally:
        await auth.aclose()


async def _call(client: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert token not in response.text
    signature = token.rpartition(".")[2]
    assert not signature or signature not in response.text
    return response


async def _status(client: httpx.AsyncClient, token: str) -> int:
    return (await _call(client, token)).status_code


async def _refetched(auth: AuthHooks) -> None:
    """Wait until the key-set fetch a request started in the background has ended."""
    remote = auth.tokens.remote
    assert remote is not None
    await remote.wait_for_fetch()


# -- accepted -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "kid"),
    [
        ("RS256", "rsa-1"),
        ("PS256", "rsa-1"),  # the same RSA JWK without alg: RS* and PS* both inferred
        ("ES256", "ec-1"),
        ("EdDSA", "ed-1"),
        ("Ed25519", "ed-1"),  # RFC 9864's fully specified name, from an OKP JWK without alg
        ("Ed25519", "ed-alg"),  # the JWK says alg: Ed25519
    ],
)
async def test_provider_tokens_accepted(
    provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alg: str, kid: str
) -> None:
    token = provider.access_token(alg, kid)
    header, claims = unverified(token)
    assert (header["alg"], header["kid"], header["typ"]) == (alg, kid, "at+jwt")
    assert claims["iss"] == provider.issuer
    async with _api(monkeypatch, tmp_path, str(provider.issuer)) as (_, client):
        response = await _call(client, token)
        assert (response.status_code, response.text) == (200, CLIENT_ID)
        assert await _status(client, token) == 200  # again, from the validated-token cache


async def test_interactive_login_access_token_accepted(
    provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The authorization code grant through the provider's own login pages gives a user's JWT access token."""
    tokens = provider.login("alice", resource="urn:authhooks:alg:ES256", scope="openid read")
    public = provider.login("carol", resource="urn:authhooks:alg:PS256", client_id="authhooks-spa", client_secret=None)
    assert unverified(public["id_token"])[0]["alg"] == "EdDSA"
    async with _api(monkeypatch, tmp_path, str(provider.issuer)) as (_, client):
        response = await _call(client, tokens["access_token"])
        assert (response.status_code, response.text) == (200, "alice")
        response = await _call(client, public["access_token"])
        assert (response.status_code, response.text) == (200, "carol")


# -- refused --------------------------------------------------------------------------------------------------


async def test_foreign_issuer_refused_though_signed_by_the_issuer_key(
    provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """RFC 9068 §4: ``iss`` must be the issuer the keys were discovered from; the key alone proves nothing."""
    # a second real provider with the same keys under another issuer identifier
    with OidcProvider(tmp_path, provider.keys, issuer="http://localhost:1/other") as twin:
        foreign = twin.access_token("RS256", "rsa-1")
    genuine = provider.access_token("RS256", "rsa-1")
    header, claims = unverified(genuine)
    key = provider.key("rsa-1")
    async with _api(monkeypatch, tmp_path, str(provider.issuer)) as (_, client):
        assert await _status(client, genuine) == 200
        # the same key re-signing the same claims: accepted (the forgery below differs by iss alone)
        control = key.sign({**claims, "jti": secrets.token_urlsafe(16)}, {"typ": "at+jwt"}, "RS256")
        assert await _status(client, control) == 200
        for iss in (
            "https://evil.example",
            f"{provider.issuer}/",
            str(provider.issuer).replace("127.0.0.1", "localhost"),
        ):
            forged = key.sign({**claims, "jti": secrets.token_urlsafe(16), "iss": iss}, header, "RS256")
            assert await _status(client, forged) == 401, iss  # RFC 8414 §3.3: compared exactly
        assert unverified(foreign)[1]["iss"] == "http://localhost:1/other"
        assert await _status(client, foreign) == 401


async def test_forged_and_tampered_tokens_refused(
    provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    genuine = provider.access_token("RS256", "rsa-1")
    head, payload, signature = genuine.split(".")
    header, claims = unverified(genuine)
    attacker = generate_key("rsa", "rsa-1")  # another key under the issuer's kid
    escalated = b64url(json.dumps({**claims, "scope": "read write admin"}).encode())
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    as_ps256 = b64url(json.dumps({**header, "alg": "PS256"}).encode())
    # the issuer's RSA key signing under the kid of its EC key: the key type decides the algorithms, not the token
    cross_type = SigningKey("ec-1", provider.key("rsa-1").key).sign(claims, {"typ": "at+jwt"}, "RS256")
    # RFC 8725 §2.1: the issuer's public key used as an HMAC secret
    public_pem = provider.key("rsa-1").key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    hs_head = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"}).encode())
    hs_mac = b64url(hmac.new(public_pem, f"{hs_head}.{payload}".encode(), hashlib.sha256).digest())
    unsigned = b64url(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    async with _api(monkeypatch, tmp_path, str(provider.issuer)) as (_, client):
        assert await _status(client, genuine) == 200
        assert await _status(client, attacker.sign(claims, {"typ": "at+jwt"}, "RS256")) == 401
        assert await _status(client, f"{head}.{escalated}.{signature}") == 401
        assert await _status(client, f"{head}.{payload}.{flipped}") == 401
        assert await _status(client, f"{as_ps256}.{payload}.{signature}") == 401
        assert await _status(client, f"{head}.{payload}.") == 401
        assert await _status(client, cross_type) == 401
        assert await _status(client, f"{hs_head}.{payload}.{hs_mac}") == 401
        assert await _status(client, f"{unsigned}.{payload}.") == 401


async def test_id_token_refused(provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An ID token is never an access token (RFC 9068 §2.1, OIDC Core §2), even when its ``aud`` is accepted."""
    tokens = provider.login("alice")
    header, claims = unverified(tokens["id_token"])
    assert "typ" not in header
    assert (claims["iss"], claims["aud"], claims["nonce"]) == (provider.issuer, CLIENT_ID, tokens["nonce"])
    async with _api(monkeypatch, tmp_path, str(provider.issuer), audience=f"{AUDIENCE},{CLIENT_ID}") as (_, client):
        response = await _call(client, tokens["id_token"])
        assert response.status_code == 401
        assert "invalid_token" in response.headers["www-authenticate"]


@pytest.mark.parametrize("typ", ["JWT", "none"])
async def test_access_token_types_setting(
    provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, typ: str
) -> None:
    """Access tokens typed ``JWT`` or untyped (Auth0, Keycloak, Cognito...) are refused by default and accepted
    when ``AUTHHOOKS_ACCESS_TOKEN_TYPES`` lists them; an ID token is refused all the same (it carries ``nonce``)."""
    token = provider.access_token("ES256", typ=typ)
    assert unverified(token)[0].get("typ") == (None if typ == "none" else typ)
    id_token = provider.login("bob")["id_token"]
    async with _api(monkeypatch, tmp_path / "default", str(provider.issuer)) as (_, client):
        assert await _status(client, token) == 401
    types = "at+jwt,JWT,none"
    audience = f"{AUDIENCE},{CLIENT_ID}"
    async with _api(
        monkeypatch, tmp_path / "opt-in", str(provider.issuer), audience=audience, access_token_types=types
    ) as (_, client):
        response = await _call(client, token)
        assert (response.status_code, response.text) == (200, CLIENT_ID)
        assert await _status(client, id_token) == 401


# -- keys over time -------------------------------------------------------------------------------------------


async def test_key_rotation_followed(
    own_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_provider.start()
    old = own_provider.access_token("RS256")
    assert unverified(old)[0]["kid"] == "rsa-old"
    async with _api(monkeypatch, tmp_path, str(own_provider.issuer)) as (auth, client):
        assert await _status(client, old) == 200
        assert await _status(client, old) == 200  # now in the validated-token cache

        # planned rotation: the next key is published beside the old one
        nxt = generate_key("rsa", "rsa-next")
        own_provider.rotate([nxt, *own_provider.keys])
        upcoming = own_provider.access_token("RS256", "rsa-next")
        await _status(client, upcoming)  # an unknown kid: the key set is refetched
        await _refetched(auth)
        assert await _status(client, upcoming) == 200
        assert await _status(client, old) == 200

        # emergency rotation: the old key is withdrawn, a third one appears
        third = generate_key("rsa", "rsa-third")
        own_provider.rotate([third, nxt, *own_provider.keys[2:]])
        assert [k["kid"] for k in own_provider.public_jwks()["keys"]] == ["rsa-third", "rsa-next", "ec-1", "ed-1"]
        newest = own_provider.access_token("RS256", "rsa-third")
        await _status(client, newest)
        await _refetched(auth)
        assert await _status(client, newest) == 200
        assert await _status(client, old) == 401  # evicted from the cache when its key left the set
        assert await _status(client, upcoming) == 200  # tokens of the keys that stayed are kept


async def test_idp_down_cached_keys_served(
    own_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_provider.start()
    first = own_provider.access_token("RS256")
    later = [own_provider.access_token(alg) for alg in ("RS256", "ES256", "EdDSA")]
    async with _api(monkeypatch, tmp_path, str(own_provider.issuer)) as (auth, client):
        assert await _status(client, first) == 200  # the key set is fetched and cached
        remote = auth.tokens.remote
        assert remote is not None
        fetches = remote.fetches
        own_provider.rotate([*own_provider.keys, generate_key("rsa", "rsa-unseen")])
        unseen = own_provider.access_token("RS256", "rsa-unseen")
        own_provider.stop()
        # a kid the cached set lacks starts a refetch, which fails: the IdP is down
        assert await _status(client, unseen) == 401
        await _refetched(auth)
        assert remote.fetches > fetches
        for token in later:  # first seen now, verified with the cached keys
            assert await _status(client, token) == 200
        own_provider.start()
        await _status(client, unseen)
        await _refetched(auth)
        assert await _status(client, unseen) == 200


async def test_idp_down_at_start_then_back(
    own_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own_provider.start()
    token = own_provider.access_token("ES256")
    own_provider.stop()
    async with _api(monkeypatch, tmp_path, str(own_provider.issuer)) as (_, client):
        started = time.monotonic()
        for _ in range(2):
            response = await _call(client, token)
            assert response.status_code == 503
        assert time.monotonic() - started < 10  # refused connections fail fast, within the fetch timeout
        own_provider.start()
        assert await _status(client, token) == 200


def test_real_server_started_while_idp_down(own_provider: OidcProvider, tmp_path: Path) -> None:
    """A uvicorn process whose start-up key fetch fails still starts, answers 503 until the IdP is back, then
    serves; with the IdP gone again the cached keys are served."""
    own_provider.start()
    tokens = [own_provider.access_token(alg) for alg in ("EdDSA", "ES256")]
    own_provider.stop()
    env = {
        "AUTHHOOKS_OIDC_ISSUER": str(own_provider.issuer),
        "AUTHHOOKS_AUDIENCE": AUDIENCE,
        "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
        "AUTHHOOKS_STORE_URL": "memory://",
        "AUTHHOOKS_TELEMETRY": "false",
        "AUTHHOOKS_JWKS_REFETCH_COOLDOWN_SECONDS": "0",
    }
    instance = Instance("oidc", env).start()
    try:
        with httpx.Client(base_url=instance.url, timeout=10) as client:

            def call(token: str) -> httpx.Response:
                return client.get("/me", headers={"Authorization": f"Bearer {token}"})

            assert call(tokens[0]).status_code == 503
            own_provider.start()
            response = call(tokens[0])
            assert (response.status_code, response.json()["subject"]) == (200, CLIENT_ID)
            own_provider.stop()
            assert call(tokens[1]).status_code == 200
    finally:
        instance.stop()


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``seconds``: another process's state, which no event here reports."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_withdrawn_key_evicted_in_every_instance(own_provider: OidcProvider, tmp_path: Path) -> None:
    """Two uvicorn processes sharing Redis: the one that sees a key leave the issuer's set evicts that key's cached
    tokens, and so does the other, told through the store's publish/subscribe (issue 13 item 2)."""
    redis_url = require_redis()
    own_provider.start()
    old = own_provider.access_token("RS256")
    env = {
        "AUTHHOOKS_OIDC_ISSUER": str(own_provider.issuer),
        "AUTHHOOKS_AUDIENCE": AUDIENCE,
        "AUTHHOOKS_STATE_DIR": str(tmp_path / "state"),
        "AUTHHOOKS_STORE_URL": redis_url,
        "AUTHHOOKS_STORE_KEY_PREFIX": f"oidc-{uuid.uuid4().hex[:8]}:",
        "AUTHHOOKS_TELEMETRY": "false",
        "AUTHHOOKS_JWKS_REFETCH_COOLDOWN_SECONDS": "0",
    }
    with two_instances(env) as (a, b), httpx.Client(timeout=10) as client:

        def status(instance: Instance, token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return client.get(f"{instance.url}/me", headers=headers).status_code

        for instance in (a, b):
            assert status(instance, old) == 200
            assert status(instance, old) == 200  # cached
        own_provider.rotate([generate_key("rsa", "rsa-new"), *own_provider.keys[1:]])
        new = own_provider.access_token("RS256", "rsa-new")
        # a's refetch (started by the unknown kid) lands in the background; b is only told
        assert _until(lambda: status(a, new) == 200)
        assert status(a, old) == 401
        assert _until(lambda: status(b, old) == 401)
        assert status(b, new) in (200, 401)  # b fetches the new key set on its own
        assert _until(lambda: status(b, new) == 200)
