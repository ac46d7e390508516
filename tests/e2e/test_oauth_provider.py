"""Sign-in with the real OpenID provider (npm's ``oidc-provider`` on 127.0.0.1, its own login pages), driven by
the HTTP client: the app behind the ASGI middleware in process, the provider a real Node.js server. The code
exchange (confidential, ``client_secret_post`` and public clients), the provider-token refresh, and every failure:
wrong and replayed ``state``, a replayed code, a PKCE mismatch, a wrong ``nonce``, an ID token for another client
(real tokens of the same provider, substituted in the token response), the provider down (a clear page, no 500).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.middleware.asgi import AuthHooksMiddleware
from authhooks.oauth import OAuthProvider, OAuthService

from ._oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, generate_key
from ._servers import free_port

PORT = free_port()  # the app's origin (in process: nothing listens there, the provider only redirects to it)
APP = f"https://127.0.0.1:{PORT}"
CALLBACK = f"{APP}/auth/oauth/idp/callback"
PUBLIC_CALLBACK = f"{APP}/auth/oauth/spa/callback"
POST_CALLBACK = f"{APP}/auth/oauth/post/callback"
POST_SECRET = "client-secret-post-secret-for-loopback-tests-only"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    extra = [
        {
            "client_id": "spa",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "redirect_uris": [PUBLIC_CALLBACK],
        },
        {
            "client_id": "post",
            "client_secret": POST_SECRET,
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [POST_CALLBACK],
        },
        {
            "client_id": "other",
            "client_secret": "another-clients-secret-for-loopback-tests-only",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
    ]
    keys = [generate_key("rsa", kid="rsa-1", alg="RS256")]
    with OidcProvider(tmp_path_factory.mktemp("idp"), keys, redirect_uri=CALLBACK, extra_clients=extra) as idp:
        yield idp


def providers(idp: OidcProvider, **extra: Any) -> list[OAuthProvider]:
    return [
        OAuthProvider(
            name="idp",
            issuer=str(idp.issuer),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scopes=("openid", "email", "offline_access"),
            params={"prompt": "consent"},
            **extra,
        ),
        OAuthProvider(name="spa", issuer=str(idp.issuer), client_id="spa"),
        OAuthProvider(
            name="post",
            issuer=str(idp.issuer),
            client_id="post",
            client_secret=POST_SECRET,
            token_auth="client_secret_post",
        ),
    ]


class Substitute(httpx.AsyncBaseTransport):
    """The real network, except that the token endpoint's ``id_token`` is replaced by ``id_token`` (a real token
    the same provider issued elsewhere): what an attacker who swaps the token response would send."""

    def __init__(self, id_token: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.id_token = id_token

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/token"):
            return response
        body = json.loads(await response.aread())
        body["id_token"] = self.id_token
        return httpx.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"subject": request.user.display_name})


def make_app(
    tmp_path: Path, idp: OidcProvider, *, sessions: bool = True, transport: Any = None, **extra: Any
) -> tuple[AuthHooks, Any]:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, sessions=sessions)
    auth.oauth = OAuthService(auth.settings, providers(idp, **extra), transport=transport)
    app = Starlette(routes=[Route("/me", _me)])
    return auth, AuthHooksMiddleware(app, auth=auth, protect=["/me"])


@pytest.fixture
async def client(tmp_path: Path, provider: OidcProvider) -> AsyncIterator[httpx.AsyncClient]:
    auth, app = make_app(tmp_path, provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as c:
        c.auth_engine = auth  # type: ignore[attr-defined]
        yield c
    await auth.aclose(timeout=2.0)


async def _authorize(client: httpx.AsyncClient, name: str = "idp") -> tuple[str, str]:
    """Start a sign-in: the provider URL and the ``state``."""
    start = await client.get(f"/auth/oauth/{name}/start?return_to=/me")
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    state = dict(p.split("=", 1) for p in urlsplit(location).query.split("&"))["state"]
    return location, state


def _login_at_provider(idp: OidcProvider, url: str, username: str = "alice") -> str:
    """The user signs in at the provider's own pages: the callback URL it redirects to (not requested)."""
    registered = idp.redirect_uri
    idp.redirect_uri = f"{APP}/auth/oauth/"  # stop at any provider's callback here (browse_login's prefix check)
    try:
        with httpx.Client(timeout=10.0) as browser:
            return idp.browse_login(browser, url, username)
    finally:
        idp.redirect_uri = registered


def _path(callback_url: str) -> str:
    parts = urlsplit(callback_url)
    return f"{parts.path}?{parts.query}"


async def _sign_in(client: httpx.AsyncClient, idp: OidcProvider, name: str = "idp") -> httpx.Response:
    url, _ = await _authorize(client, name)
    return await client.get(_path(_login_at_provider(idp, url)))


async def test_sign_in_makes_a_session_then_logout_refuses_it(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    done = await _sign_in(client, provider)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    me = await client.get("/me")
    assert me.status_code == 200 and me.json()["subject"] == "idp:alice"
    csrf = client.cookies["__Host-authhooks_csrf"]
    assert (await client.post("/auth/logout", headers={"x-csrf-token": csrf})).status_code == 204
    assert (await client.get("/me")).status_code == 401


@pytest.mark.parametrize("name", ["spa", "post"])
async def test_public_and_client_secret_post_clients(
    client: httpx.AsyncClient, provider: OidcProvider, name: str
) -> None:
    done = await _sign_in(client, provider, name)
    assert done.status_code == 303, done.text
    assert (await client.get("/me")).json()["subject"] == f"{name}:alice"


async def test_tokens_without_sessions_and_login_hooks_see_the_external_identity(
    tmp_path: Path, provider: OidcProvider
) -> None:
    auth, app = make_app(tmp_path, provider, sessions=False, keep_tokens=True)
    seen: list[tuple[str, str]] = []
    auth.add_hook(
        "login.verified",
        lambda external: seen.append((external.provider, external.subject)) or {"subject": "alice@local"},
    )
    refreshed: list[str] = []
    auth.add_hook("oauth2_token_refreshed", lambda subject: refreshed.append(subject))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as client:
        done = await _sign_in(client, provider)
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["token_type"] == "Bearer" and "refresh_token" in body
        me = await client.get("/me", headers={"authorization": f"Bearer {body['access_token']}"})
        assert me.json()["subject"] == "alice@local"
    assert seen == [("idp", "alice")]
    kept = await auth.provider_tokens("idp", "alice@local")
    assert kept is not None and kept.refresh_token is not None
    fresh = await auth.oauth_refresh("idp", "alice@local")  # the real provider's refresh_token grant
    assert fresh.access_token != kept.access_token and refreshed == ["alice@local"]
    await auth.aclose(timeout=2.0)


async def _page(client: httpx.AsyncClient, path: str, status: int, reason: str) -> None:
    page = await client.get(path)
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html") and reason in page.text


async def test_wrong_and_replayed_state(client: httpx.AsyncClient, provider: OidcProvider) -> None:
    url, state = await _authorize(client)
    callback = _path(_login_at_provider(provider, url))
    await _page(client, callback.replace(state, "forged-state"), 400, "state_unknown")
    assert (await client.get(callback)).status_code == 303
    await _page(client, callback, 400, "state_unknown")  # replayed


async def test_a_replayed_code_is_refused(client: httpx.AsyncClient, provider: OidcProvider) -> None:
    url, state = await _authorize(client)
    callback = _path(_login_at_provider(provider, url))
    assert (await client.get(callback)).status_code == 303
    _, fresh_state = await _authorize(client)  # a new sign-in presenting the code already redeemed
    await _page(client, callback.replace(state, fresh_state), 400, "exchange_refused")


async def test_a_pkce_mismatch_is_refused(client: httpx.AsyncClient, provider: OidcProvider) -> None:
    url, state = await _authorize(client)
    _, other_state = await _authorize(client)  # its verifier is not the one the code was issued for
    callback = _path(_login_at_provider(provider, url))
    await _page(client, callback.replace(state, other_state), 400, "exchange_refused")


@pytest.mark.parametrize(
    ("client_id", "secret", "reason"),
    [
        (CLIENT_ID, CLIENT_SECRET, "nonce_mismatch"),
        ("other", "another-clients-secret-for-loopback-tests-only", "wrong_audience"),
    ],
)
async def test_a_substituted_id_token_is_refused(
    tmp_path: Path, provider: OidcProvider, client_id: str, secret: str, reason: str
) -> None:
    if client_id == "other":  # the other client's redirect URI is the fixture's default one
        tokens = provider.login("mallory", client_id=client_id, client_secret=secret)
    else:
        tokens = provider.login("mallory")
    auth, app = make_app(tmp_path, provider, transport=Substitute(tokens["id_token"]))
    failed: list[str] = []
    auth.add_hook("oauth2_token_fetch_failed", lambda reason: failed.append(reason))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as client:
        url, _ = await _authorize(client)
        await _page(client, _path(_login_at_provider(provider, url)), 400, reason)
        assert (await client.get("/me")).status_code == 401
    assert failed == [reason]
    await auth.aclose(timeout=2.0)


async def test_provider_down_is_a_clear_page(tmp_path: Path, provider: OidcProvider) -> None:
    auth, app = make_app(tmp_path, provider)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP) as client:
        url, _ = await _authorize(client)
        callback = _path(_login_at_provider(provider, url))
        provider.stop()
        try:
            await _page(client, callback, 502, "provider_unavailable")
            start = await client.get("/auth/oauth/idp/start")  # discovery is cached: a start still works
            assert start.status_code == 302
        finally:
            provider.start()
    await auth.aclose(timeout=2.0)
    cold, app2 = make_app(tmp_path / "cold", provider)
    provider.stop()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app2), base_url=APP) as client:
            await _page(client, "/auth/oauth/idp/start", 502, "provider_unavailable")
    finally:
        provider.start()
    await cold.aclose(timeout=2.0)


def test_sign_in_under_the_wsgi_driver(tmp_path: Path, provider: OidcProvider) -> None:
    """The same sign-in with the blocking twins: WSGI middleware, sync discovery, token request and key fetch."""
    from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = json.dumps({"subject": environ[PRINCIPAL_KEY].subject}).encode()
        start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))])
        return [body]

    auth = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False, sessions=True)
    auth.oauth = OAuthService(auth.settings, providers(provider))
    wsgi = AuthHooksWSGIMiddleware(app, auth=auth, protect=["/me"])
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=wsgi), base_url=APP) as client:
            start = client.get("/auth/oauth/idp/start?return_to=/me")
            assert start.status_code == 302
            done = client.get(_path(_login_at_provider(provider, start.headers["location"])))
            assert done.status_code == 303, done.text
            assert client.get("/me").json()["subject"] == "idp:alice"
            csrf = client.cookies["__Host-authhooks_csrf"]
            assert client.post("/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
            assert client.get("/me").status_code == 401
    finally:
        wsgi.close()


async def test_the_doctor_reaches_the_provider(tmp_path: Path, provider: OidcProvider) -> None:
    from authhooks._checks import doctor

    file = tmp_path / "providers.toml"
    file.write_text(f'[provider.idp]\nissuer = "{provider.issuer}"\nclient_id = "{CLIENT_ID}"\n')
    env = {"AUTHHOOKS_OAUTH_PROVIDERS_FILE": str(file), "AUTHHOOKS_STORE_URL": "memory://"}
    lines = [check.line() for check in await doctor(env)]
    assert "oauth providers: ok (idp: discovery and keys fetched)" in lines
