"""The built-in auth routes in process, under both drivers (ASGI and WSGI): every route, every body and method
refusal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authhooks import AuthHooks, Deny

from ._support import Issue, b64url, bearer, client, make_app, make_for


def keypair() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return key, b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


async def login(c: httpx.AsyncClient, form: bool = False) -> dict[str, Any]:
    """Challenge-response login through the routes; returns the token response."""
    key, subject = keypair()
    r = await c.post("/auth/challenge", json={"subject": subject})
    assert r.status_code == 200, r.text
    challenge = r.json()
    signature = b64url(key.sign(challenge["message"].encode()))
    data = {"subject": subject, "challenge": challenge["nonce"], "signature": signature}
    r = await c.post("/auth/login", data=data) if form else await c.post("/auth/login", json=data)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and r.headers["pragma"] == "no-cache"
    return dict(r.json())


@pytest.mark.parametrize("form", [False, True])
async def test_challenge_login_refresh_logout(driver: str, auth: AuthHooks, form: bool) -> None:
    async with client(make_for(driver, auth)) as c:
        tokens = await login(c, form)
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
        assert (await c.get("/api/me", headers=bearer(tokens["access_token"]))).status_code == 200
        r = await c.post(
            "/auth/refresh", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 200
        fresh = r.json()
        assert fresh["access_token"] != tokens["access_token"]
        r = await c.post("/auth/logout", headers=bearer(fresh["access_token"]), json={})
        assert r.status_code == 204 and r.content == b""
        assert (await c.get("/api/me", headers=bearer(fresh["access_token"]))).status_code == 401
        r = await c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})  # a rotated token
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert "www-authenticate" not in r.headers and r.headers["cache-control"] == "no-store"


async def test_logout_also_revokes_the_refresh_token(driver: str, auth: AuthHooks) -> None:
    async with client(make_for(driver, auth)) as c:
        tokens = await login(c)
        r = await c.post(
            "/auth/logout", headers=bearer(tokens["access_token"]), data={"refresh_token": tokens["refresh_token"]}
        )
        assert r.status_code == 204
        r = await c.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 400


async def test_logout_with_only_the_access_token_ends_the_whole_login(driver: str, auth: AuthHooks) -> None:
    """What the examples and the demo send (the access token alone): the refresh token dies with the login."""
    async with client(make_for(driver, auth)) as c:
        tokens = await login(c)
        r = await c.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        fresh = r.json()
        r = await c.post("/auth/logout", headers=bearer(tokens["access_token"]))
        assert r.status_code == 204
        r = await c.post("/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        for token in (tokens["access_token"], fresh["access_token"]):
            assert (await c.get("/api/me", headers=bearer(token))).status_code == 401


async def test_logout_needs_a_bearer_token(driver: str, auth: AuthHooks) -> None:
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/logout")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="authhooks"'
        r = await c.post("/auth/logout", headers=bearer("x.y.z"))
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_bad_login_is_400_invalid_grant_without_a_challenge(driver: str, auth: AuthHooks) -> None:
    """RFC 6749 §5.2: credentials that do not prove the identity are an invalid grant, not a 401."""
    _, subject = keypair()
    async with client(make_for(driver, auth)) as c:
        challenge = (await c.post("/auth/challenge", json={"subject": subject})).json()
        r = await c.post(
            "/auth/login",
            json={"subject": subject, "challenge": challenge["nonce"], "signature": b64url(b"\x00" * 64)},
        )
        assert r.status_code == 400
        assert "www-authenticate" not in r.headers
        assert r.json() == {"error": "invalid_grant", "error_description": "The credentials are invalid."}


async def test_revoke_is_200_whether_or_not_the_token_existed(driver: str, auth: AuthHooks, issue: Issue) -> None:
    token = await issue()
    async with client(make_for(driver, auth)) as c:
        for value in (token, token, "unknown-token", "x" * 100):
            r = await c.post("/auth/revoke", data={"token": value, "token_type_hint": "access_token"})
            assert r.status_code == 200 and r.content == b""
        assert (await c.get("/api/me", headers=bearer(token))).status_code == 401
        assert (await c.post("/auth/revoke", data={})).status_code == 400


async def test_revoke_honours_a_deny_hook(driver: str, auth: AuthHooks, issue: Issue) -> None:
    auth.add_hook("invalidate_token.pre", lambda: Deny(403, "frozen"))
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/revoke", data={"token": await issue()})
    assert r.status_code == 403 and r.json()["error"] == "access_denied"


async def test_introspect(driver: str, auth: AuthHooks, issue: Issue) -> None:
    caller = await issue("rs", "introspect")
    subject = await issue("dave", "read")
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/introspect", headers=bearer(caller), data={"token": subject})
        assert r.status_code == 200
        body = r.json()
        assert body["active"] is True and body["sub"] == "dave" and body["scope"] == "read"
        for value in ("garbage", caller + "x"):
            r = await c.post("/auth/introspect", headers=bearer(caller), data={"token": value})
            assert r.json() == {"active": False}
        await auth.invalidate_token(subject)
        r = await c.post("/auth/introspect", headers=bearer(caller), data={"token": subject})
        assert r.json() == {"active": False}
        r = await c.post("/auth/introspect", headers=bearer(subject), data={"token": caller})
        assert r.status_code == 401
        weak = await issue("rs2", "read")
        r = await c.post("/auth/introspect", headers=bearer(weak), data={"token": caller})
        assert r.status_code == 403 and 'scope="introspect"' in r.headers["www-authenticate"]
        assert (await c.post("/auth/introspect", data={"token": caller})).status_code == 401


async def test_jwks(driver: str, auth: AuthHooks) -> None:
    async with client(make_for(driver, auth)) as c:
        r = await c.get("/auth/jwks.json")
        assert r.status_code == 200 and "keys" in r.json()
        assert r.headers["cache-control"] == "public, max-age=300"
        head = await c.head("/auth/jwks.json")
        assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/auth/login", "OPTIONS, POST"),
        ("DELETE", "/auth/revoke", "OPTIONS, POST"),
        ("POST", "/auth/jwks.json", "GET, HEAD, OPTIONS"),
    ],
)
async def test_wrong_method_is_405_with_allow(driver: str, auth: AuthHooks, method: str, path: str, allow: str) -> None:
    async with client(make_for(driver, auth)) as c:
        r = await c.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == allow
        options = await c.request("OPTIONS", path)
        assert options.status_code == 204 and options.headers["allow"] == allow


@pytest.mark.parametrize(
    ("headers", "content", "status", "needle"),
    [
        ({"content-type": "text/plain"}, b"subject=a", 415, ""),
        ({"content-type": "application/json"}, b"{", 400, "not valid JSON"),
        ({"content-type": "application/json"}, b"\xff", 400, "UTF-8"),
        ({"content-type": "application/json"}, b"[1]", 400, "JSON object"),
        ({"content-type": "application/json"}, b'{"subject": 1}', 400, "`subject`"),
        ({"content-type": "application/json"}, b"{}", 400, "`subject`"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"subject=a&subject=b", 400, "`subject`"),
        ({"content-type": "application/json"}, b'{"subject":"' + b"s" * 600 + b'"}', 400, "`subject`"),
        ({"content-type": "application/json"}, b'{"subject":"' + b"s" * 70000 + b'"}', 413, ""),
    ],
)
async def test_body_refusals(
    driver: str, auth: AuthHooks, headers: dict[str, str], content: bytes, status: int, needle: str
) -> None:
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/challenge", headers=headers, content=content)
    assert r.status_code == status
    assert r.json()["error"] == "invalid_request"
    assert needle in r.json()["error_description"]
    assert "sss" not in r.text


async def test_problem_json_on_routes(driver: str, auth: AuthHooks) -> None:
    async with client(make_for(driver, auth, error_format="problem+json")) as c:
        r = await c.post("/auth/refresh", data={"refresh_token": "nope"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["error"] == "invalid_grant"


async def test_unsupported_grant_type(driver: str, auth: AuthHooks) -> None:
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/refresh", data={"grant_type": "password", "refresh_token": "x"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


async def test_custom_prefix_and_introspect_scope(driver: str, auth: AuthHooks, issue: Issue) -> None:
    app = make_for(driver, auth, routes_prefix="/oauth2/", introspect_scope="")
    async with client(app) as c:
        assert (await c.get("/oauth2/jwks.json")).status_code == 200
        assert (await c.get("/auth/jwks.json")).status_code == 401  # no longer a route: protected like the rest
        token = await issue("any", "read")
        r = await c.post("/oauth2/introspect", headers=bearer(token), data={"token": token})
        assert r.json()["active"] is True


async def test_repeated_content_type_is_400(driver: str, auth: AuthHooks) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-type", b"text/plain")]
    async with client(make_for(driver, auth)) as c:
        r = await c.post("/auth/challenge", headers=headers, content=b'{"subject":"a"}')
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_a_client_that_disconnects_mid_body_gets_nothing(auth: AuthHooks) -> None:
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"sub', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/auth/challenge",
        "headers": [(b"content-type", b"application/json")],
        "client": None,
    }
    await make_app(auth)(scope, receive, send)
    assert sent == []
