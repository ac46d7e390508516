"""End to end: real uvicorn on 127.0.0.1, httpx and raw sockets, through every route and every error class."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authhooks import AuthHooks, Deny
from authhooks.middleware import ObservedRoute

from ._support import Server, b64url, bearer, make_app, make_auth, status_of

pytestmark = pytest.mark.slow


class World:
    """The module's server, engine and lifecycle record."""

    def __init__(self, server: Server, auth: AuthHooks, events: list[str]) -> None:
        self.server, self.auth, self.events = server, auth, events
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def token(self, subject: str = "alice", scope: str = "read") -> str:
        return self.auth.sync.issue_token(subject, {"scope": scope}).token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    auth = make_auth(tmp_path_factory.mktemp("e2e"))
    events: list[str] = []
    prepare, aclose = auth.prepare, auth.aclose

    async def counting_prepare() -> None:
        events.append("prepare")
        await prepare()

    async def counting_aclose(timeout: float = 5.0) -> None:
        events.append("aclose")
        await aclose(timeout)

    auth.prepare = counting_prepare  # type: ignore[method-assign]
    auth.aclose = counting_aclose  # type: ignore[method-assign]

    def deny_blocked(subject: str | None) -> Deny | None:
        return Deny(429, "rate_limited", {"Retry-After": "30"}) if subject == "blocked" else None

    def broken(subject: str | None) -> None:
        if subject == "broken":
            raise RuntimeError("hook crashed with password=hunter2")

    auth.add_hook("challenge.pre", deny_blocked)
    auth.add_hook("challenge.pre", broken)
    app = make_app(
        auth,
        required_scopes={"/api/admin": ["admin"]},
        observe=[ObservedRoute("/login", "POST", flow="login", identifier_field="username")],
        max_body_bytes=4096,
        body_timeout=0.5,
    )
    server = Server(app)
    with server:
        w = World(server, auth, events)
        yield w
        w.http.close()
    assert events[-1] == "aclose"


def test_lifespan_prefetched_keys_at_startup(world: World) -> None:
    assert world.events[0] == "prepare"


def test_full_login_cycle_over_http(world: World) -> None:
    key = Ed25519PrivateKey.generate()
    subject = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    http = world.http
    challenge = http.post("/auth/challenge", json={"subject": subject}).json()
    signature = b64url(key.sign(challenge["message"].encode()))
    r = http.post("/auth/login", data={"subject": subject, "challenge": challenge["nonce"], "signature": signature})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    tokens = r.json()
    assert http.get("/api/me", headers=bearer(tokens["access_token"])).json()["identity"] == subject
    # the challenge is single-use
    again = http.post("/auth/login", json={"subject": subject, "challenge": challenge["nonce"], "signature": signature})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # RFC 6749 §5.2
    fresh = http.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    caller = world.token("rs", "introspect")
    intro = http.post("/auth/introspect", headers=bearer(caller), data={"token": fresh["access_token"]}).json()
    assert intro["active"] is True and intro["sub"] == subject
    logout = http.post(
        "/auth/logout", headers=bearer(fresh["access_token"]), json={"refresh_token": fresh["refresh_token"]}
    )
    assert logout.status_code == 204
    assert http.get("/api/me", headers=bearer(fresh["access_token"])).status_code == 401
    assert http.post("/auth/refresh", data={"refresh_token": fresh["refresh_token"]}).status_code == 400
    assert http.post("/auth/introspect", headers=bearer(caller), data={"token": fresh["access_token"]}).json() == {
        "active": False
    }
    revoke = http.post("/auth/revoke", data={"token": caller, "token_type_hint": "access_token"})
    assert revoke.status_code == 200
    assert http.post("/auth/revoke", data={"token": caller}).status_code == 200
    jwks = http.get("/auth/jwks.json")
    assert jwks.status_code == 200 and jwks.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize(
    ("request_kwargs", "status", "check"),
    [
        ({"method": "GET", "url": "/api/me"}, 401, 'Bearer realm="authhooks"'),
        ({"method": "GET", "url": "/api/me", "headers": bearer("a.b.c")}, 401, 'error="invalid_token"'),
        (
            {"method": "GET", "url": "/api/me", "headers": {"authorization": "Bearer a b"}},
            400,
            'error="invalid_request"',
        ),
        ({"method": "GET", "url": "/api/me", "headers": {"authorization": "Bearer ="}}, 400, 'error="invalid_request"'),
        (
            {"method": "GET", "url": "/api/me", "headers": {"authorization": "Basic eDp5"}},
            401,
            'Bearer realm="authhooks"',
        ),
    ],
)
def test_protected_resource_errors(world: World, request_kwargs: dict[str, Any], status: int, check: str) -> None:
    r = world.http.request(**request_kwargs)
    assert r.status_code == status
    assert r.headers["www-authenticate"].startswith(check) or check in r.headers["www-authenticate"]
    assert r.headers["cache-control"] == "no-store"


def test_insufficient_scope(world: World) -> None:
    r = world.http.get("/api/admin", headers=bearer(world.token("x", "write")))
    assert r.status_code == 403 and r.headers["www-authenticate"].endswith('scope="admin"')
    assert r.json()["error"] == "insufficient_scope"
    r = world.http.get("/api/admin", headers=bearer(world.token("x", "admin")))
    assert r.status_code == 200 and r.text == "admin x"


def test_two_authorization_headers_over_the_wire(world: World) -> None:
    token = world.token()
    raw = (
        b"GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() + b"\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nConnection: close\r\n\r\n"
    )
    response = world.server.raw(raw)
    assert status_of(response) == 400 and b'error="invalid_request"' in response


@pytest.mark.parametrize("target", [b"/api/%2e%2e/health", b"/public/%2E%2E/api/me", b"/api/me%00", b"/api/./me"])
def test_dot_segments_and_nul_are_400(world: World, target: bytes) -> None:
    response = world.server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(response) == 400


def test_deny_and_hook_failure_over_http(world: World) -> None:
    r = world.http.post("/auth/challenge", json={"subject": "blocked"})
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    r = world.http.post("/auth/challenge", json={"subject": "broken"})
    assert r.status_code == 503 and "hunter2" not in r.text and "RuntimeError" not in r.text


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"content-type": "application/json"}, b"{broken", 400),
        ({"content-type": "application/json"}, b"\xc3\x28", 400),
        ({"content-type": "application/json"}, b"[]", 400),
        ({"content-type": "application/x-www-form-urlencoded"}, b"subject=a&subject=b", 400),
        ({"content-type": "text/xml"}, b"<subject/>", 415),
        ({"content-type": "application/json"}, b'{"subject":"' + b"x" * 5000 + b'"}', 413),
    ],
)
def test_route_body_errors_over_http(world: World, headers: dict[str, str], content: bytes, status: int) -> None:
    r = world.http.post("/auth/challenge", headers=headers, content=content)
    assert r.status_code == status and r.json()["error"] == "invalid_request"


def test_chunked_oversized_body_is_cut_off(world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"subject":"'
        for _ in range(100):
            yield b"x" * 1000

    r = world.http.post("/auth/challenge", headers={"content-type": "application/json"}, content=chunks())
    assert r.status_code == 413


def test_lying_content_length_is_refused_at_once(world: World) -> None:
    raw = (
        b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n{"
    )
    assert status_of(world.server.raw(raw)) == 413


def test_stalled_body_times_out(world: World) -> None:
    raw = b"POST /auth/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    assert status_of(world.server.raw(raw, timeout=5)) == 408


def test_method_not_allowed(world: World) -> None:
    r = world.http.get("/auth/login")
    assert r.status_code == 405 and r.headers["allow"] == "OPTIONS, POST"


def test_observed_login_route_over_http(world: World) -> None:
    seen: list[tuple[str, Any]] = []

    def record(event: Any) -> None:
        seen.append((event.point, event.get("reason")))

    world.auth.add_hook("login.post", record)
    world.auth.add_hook("login.failed", record)
    try:
        ok = world.http.post("/login", json={"username": "u1", "password": "right"})
        bad = world.http.post("/login", json={"username": "u1", "password": "wrong"})
    finally:
        world.auth.remove_hook(record)
    assert ok.json()["got"]["password"] == "right" and bad.status_code == 401
    assert seen == [("login.post", None), ("login.failed", "http_401")]


def test_problem_json_over_http(tmp_path: Path) -> None:
    auth = make_auth(tmp_path)
    with Server(make_app(auth, error_format="problem+json")) as server, httpx.Client(timeout=10) as http:
        r = http.get(server.url + "/api/me", headers=bearer("x.y.z"))
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert json.loads(r.text)["error"] == "invalid_token"
