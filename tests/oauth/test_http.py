"""The provider routes and session cookies over HTTP, in process, under the ASGI and the WSGI driver: sign in,
land with a session, call a protected page, unsafe methods and CSRF, per-path credentials, logout, failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.middleware.asgi import AuthHooksMiddleware
from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware
from oauth._fake_provider import FakeProvider
from oauth.conftest import Clock, make_engine

BASE = "https://app.test"


async def _me(request: Request) -> JSONResponse:
    body = (await request.body()).decode()
    return JSONResponse({"subject": request.user.display_name, "body": body})


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    principal = environ.get(PRINCIPAL_KEY)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length).decode() if length else ""
    data = json.dumps({"subject": principal.subject if principal else None, "body": body}).encode()
    start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(data)))])
    return [data]


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def engine(tmp_path: Path, fake: FakeProvider, clock: Clock) -> AsyncIterator[AuthHooks]:
    settings = {"session_paths": ("/me",), "bearer_paths": ("/api/**", "/me")}
    auth = make_engine(tmp_path, fake, clock, settings=settings)
    yield auth
    await auth.aclose(timeout=2.0)


@pytest.fixture
async def client(engine: AuthHooks, driver: str) -> AsyncIterator[Any]:
    """An HTTP client of the app behind the ASGI middleware, or behind the WSGI one (through a thread)."""
    if driver == "asgi":
        app = Starlette(routes=[Route("/me", _me, methods=["GET", "POST"]), Route("/api/me", _me, methods=["GET"])])
        transport = httpx.ASGITransport(app=AuthHooksMiddleware(app, auth=engine, protect=["/me", "/api/**"]))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            yield c
    else:
        wsgi = AuthHooksWSGIMiddleware(_wsgi_app, auth=engine, protect=["/me", "/api/**"])
        sync_client = httpx.Client(transport=httpx.WSGITransport(app=wsgi), base_url=BASE)
        yield _Shim(sync_client)
        await asyncio.to_thread(sync_client.close)
        await asyncio.to_thread(wsgi.close)


class _Shim:
    """``await client.get(…)`` over a sync ``httpx.Client`` (the WSGI transport), run in a thread."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self.cookies = client.cookies

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await asyncio.to_thread(self._client.request, method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)


async def _sign_in(client: Any, fake: FakeProvider, return_to: str = "/me") -> httpx.Response:
    start = await client.get(f"/auth/oauth/fake/start?{urlencode({'return_to': return_to})}")
    assert start.status_code == 302, start.text
    assert "__Host-authhooks_oauth" in start.headers["set-cookie"]
    params = fake.consent(start.headers["location"])
    return await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")


async def test_sign_in_lands_with_a_session_and_logout_ends_it(client: Any, fake: FakeProvider) -> None:
    assert (await client.get("/me")).status_code == 401
    done = await _sign_in(client, fake)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    set_cookies = done.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith("__Host-authhooks_session="))
    assert all(a in session for a in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/")) and "Domain" not in session
    csrf = client.cookies.get("__Host-authhooks_csrf")
    assert csrf
    me = await client.get("/me")
    assert me.status_code == 200 and me.json()["subject"] == "fake:user-42"
    # unsafe methods: the CSRF token (header, or a form field the app still receives), same origin
    assert (await client.post("/me", content=b"x")).status_code == 403
    ok = await client.post("/me", headers={"x-csrf-token": csrf, "origin": BASE, "sec-fetch-site": "same-origin"})
    assert ok.status_code == 200
    form = await client.post("/me", data={"csrf_token": csrf, "note": "hi"})
    assert form.status_code == 200 and "note=hi" in form.json()["body"]
    cross = await client.post("/me", headers={"x-csrf-token": csrf, "origin": "https://evil.test"})
    assert cross.status_code == 403
    site = await client.post("/me", headers={"x-csrf-token": csrf, "sec-fetch-site": "cross-site"})
    assert site.status_code == 403
    # the session is not a credential on a Bearer-only path
    assert (await client.get("/api/me")).status_code == 401
    assert (await client.post("/auth/logout")).status_code == 403  # no CSRF token
    out = await client.post("/auth/logout", headers={"x-csrf-token": csrf})
    assert out.status_code == 204
    assert any(
        c.startswith("__Host-authhooks_session=;") and "Max-Age=0" in c for c in out.headers.get_list("set-cookie")
    )
    assert (await client.get("/me")).status_code == 401


async def test_a_replayed_callback_is_a_clear_page(client: Any, fake: FakeProvider) -> None:
    start = await client.get("/auth/oauth/fake/start")
    params = fake.consent(start.headers["location"])
    first = await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")
    assert first.status_code == 303
    again = await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")
    assert again.status_code == 400 and again.headers["content-type"].startswith("text/html")
    assert "state_unknown" in again.text and params["code"] not in again.text


async def test_provider_down_is_a_502_page(client: Any, fake: FakeProvider) -> None:
    fake.down = True
    start = await client.get("/auth/oauth/fake/start")
    assert start.status_code == 502 and "provider_unavailable" in start.text


async def test_two_sign_ins_started_in_two_tabs_both_stay_bound_to_the_browser(client: Any, fake: FakeProvider) -> None:
    """The second start reuses the browser's binding instead of replacing it, so the first tab's callback is
    still this browser's (it failed with state_mismatch when every start set a new binding)."""
    first = await client.get("/auth/oauth/fake/start")
    second = await client.get("/auth/oauth/fake/start")
    assert first.status_code == second.status_code == 302
    params = fake.consent(first.headers["location"])  # the user finishes in the first tab
    done = await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")
    assert done.status_code == 303, done.text
    assert (await client.get("/me")).status_code == 200


async def test_a_forged_binding_cookie_is_replaced_not_reused(client: Any, fake: FakeProvider) -> None:
    client.cookies.set("__Host-authhooks_oauth", "attacker-chosen", domain="app.test", path="/")
    start = await client.get("/auth/oauth/fake/start")
    assert "attacker-chosen" not in start.headers["set-cookie"]
    params = fake.consent(start.headers["location"])
    assert (await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")).status_code == 303


async def test_a_callback_without_the_binding_cookie_is_refused(client: Any, fake: FakeProvider) -> None:
    start = await client.get("/auth/oauth/fake/start")
    params = fake.consent(start.headers["location"])
    client.cookies.clear()  # another browser
    page = await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")
    assert page.status_code == 400 and "state_mismatch" in page.text


async def test_a_challenge_login_may_set_a_session_and_rotates_the_old_one(client: Any, engine: AuthHooks) -> None:
    from flows._identity import Ed25519Key

    key = Ed25519Key()
    for _ in range(2):
        challenge = (await client.post("/auth/challenge", json={"subject": key.subject})).json()
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": key.sign(challenge["message"])}
        login = await client.post("/auth/login", json={**body, "session": "true"})
        assert login.status_code == 200 and "access_token" in login.json()
        assert any(c.startswith("__Host-authhooks_session=") for c in login.headers.get_list("set-cookie"))
        me = await client.get("/me")
        assert me.status_code == 200 and me.json()["subject"] == key.subject
        assert len(await engine.sessions(key.subject)) == 1  # the second login ended the first session
    plain = await client.post("/auth/login", json={**body})
    assert plain.status_code == 400  # the challenge was used: a login never reuses one


async def test_one_login_one_logout_whatever_the_client_sends(client: Any) -> None:
    """A login that made tokens and a session: a logout with either ends both."""
    from flows._identity import Ed25519Key

    key = Ed25519Key()

    async def login() -> dict[str, Any]:
        challenge = (await client.post("/auth/challenge", json={"subject": key.subject})).json()
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": key.sign(challenge["message"])}
        response = await client.post("/auth/login", json={**body, "session": "true"})
        assert response.status_code == 200
        return dict(response.json())

    def bearer(pair: dict[str, Any]) -> dict[str, str]:
        return {"authorization": f"Bearer {pair['access_token']}"}

    # a logout with the session cookie ends the tokens of the same login
    pair = await login()
    assert (await client.get("/api/me", headers=bearer(pair))).status_code == 200
    csrf = client.cookies.get("__Host-authhooks_csrf")
    assert (await client.post("/auth/logout", headers={"x-csrf-token": csrf})).status_code == 204
    assert (await client.get("/api/me", headers=bearer(pair))).status_code == 401
    refreshed = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 400
    # a logout with the token alone (no cookie sent) ends the session of the same login
    pair = await login()
    assert (await client.get("/me")).status_code == 200
    jar = dict(client.cookies)
    client.cookies.clear()
    assert (await client.post("/auth/logout", headers=bearer(pair))).status_code == 204
    client.cookies.update(jar)
    assert (await client.get("/me")).status_code == 401


async def test_a_callback_repeating_a_parameter_is_refused(client: Any, fake: FakeProvider) -> None:
    start = await client.get("/auth/oauth/fake/start")
    params = fake.consent(start.headers["location"])
    query = urlencode(params) + "&state=" + params["state"]
    page = await client.get(f"/auth/oauth/fake/callback?{query}")
    assert page.status_code == 400 and "repeats a parameter" in page.text
    assert (await client.get(f"/auth/oauth/fake/callback?{urlencode(params)}")).status_code == 303  # state unspent


async def test_the_development_cookie_on_plain_http(tmp_path: Path, fake: FakeProvider, clock: Clock) -> None:
    """AUTHHOOKS_SESSION_INSECURE_COOKIE: names without __Host-, no Secure, for plain http in development."""
    auth = make_engine(tmp_path, fake, clock, settings={"session_insecure_cookie": True})
    app = Starlette(routes=[Route("/me", _me, methods=["GET", "POST"])])
    transport = httpx.ASGITransport(app=AuthHooksMiddleware(app, auth=auth, protect=["/me"]))
    async with httpx.AsyncClient(transport=transport, base_url="http://dev.test") as client:
        start = await client.get("/auth/oauth/fake/start")
        assert "authhooks_oauth=" in start.headers["set-cookie"] and "Secure" not in start.headers["set-cookie"]
        done = await client.get(f"/auth/oauth/fake/callback?{urlencode(fake.consent(start.headers['location']))}")
        assert done.status_code == 303
        session = next(c for c in done.headers.get_list("set-cookie") if c.startswith("authhooks_session="))
        assert "Secure" not in session and "HttpOnly" in session
        assert (await client.get("/me")).json()["subject"] == "fake:user-42"
    await auth.aclose(timeout=2.0)


async def test_callback_answers_send_no_referrer(client: Any, fake: FakeProvider) -> None:
    """The callback's URL holds the code and state: neither its landing redirect nor its error page lets the
    browser send that URL on as a Referer (RFC 9700 §4.2.4)."""
    failed = await client.get("/auth/oauth/fake/callback?state=unknown&code=x")
    assert failed.status_code == 400 and failed.headers["referrer-policy"] == "no-referrer"
    done = await _sign_in(client, fake)
    assert done.status_code == 303 and done.headers["referrer-policy"] == "no-referrer"


async def test_a_cross_site_page_cannot_sign_the_browser_in_with_a_session(client: Any, engine: AuthHooks) -> None:
    """Login CSRF: another site's auto-submitted form would set its own account's session cookie in the victim's
    browser; a login asking for a session is refused when the browser marks it cross-site, before any login."""
    from flows._identity import Ed25519Key

    key = Ed25519Key()
    for hostile in ({"origin": "https://evil.test"}, {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}):
        challenge = (await client.post("/auth/challenge", json={"subject": key.subject})).json()
        body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": key.sign(challenge["message"])}
        before = await engine.sessions(key.subject)
        refused = await client.post("/auth/login", data={**body, "session": "true"}, headers=hostile)
        assert refused.status_code == 403 and refused.json()["error_description"]
        assert not refused.headers.get_list("set-cookie")
        assert await engine.sessions(key.subject) == before
        same = {"origin": BASE, "sec-fetch-site": "same-origin"}
        login = await client.post("/auth/login", data={**body, "session": "true"}, headers=same)
        assert login.status_code == 200  # the challenge was not spent by the refused attempt
        assert len(await engine.sessions(key.subject)) == 1
    tokens_only = await client.post("/auth/challenge", json={"subject": key.subject})
    challenge = tokens_only.json()
    body = {"subject": key.subject, "challenge": challenge["nonce"], "signature": key.sign(challenge["message"])}
    api = await client.post("/auth/login", json=body, headers={"origin": "https://other-app.test"})
    assert api.status_code == 200  # without a session: a token login from any origin, as before
