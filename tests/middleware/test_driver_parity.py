"""The two drivers side by side: the same requests to the ASGI and the WSGI middleware (one engine, the same
options) get byte-identical answers: status, headers and body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from authhooks import AuthHooks

from ._support import client, make_app, make_auth
from ._wsgi import make_wsgi_app

OPTIONS: list[dict[str, Any]] = [
    {"required_scopes": {"/api/admin": ["admin"]}},
    {"error_format": "problem+json", "realm": "shop", "optional_auth": True, "max_body_bytes": 64},
]

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def requests(read: str, admin: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    """(method, path, headers, body): protected and public paths, every route, and the refusals of each."""
    bearer = {"authorization": f"Bearer {read}"}
    return [
        ("GET", "/api/me", {}, b""),
        ("GET", "/api/me", bearer, b""),
        ("GET", "/api/me", {"authorization": "Bearer a.b.c"}, b""),
        ("GET", "/api/me", {"authorization": "Basic eDp5"}, b""),
        ("GET", "/api/me", {"authorization": "Bearer"}, b""),
        ("GET", "/api/me", {"authorization": "Bearer a b"}, b""),
        ("GET", "/api/admin", bearer, b""),
        ("GET", "/api/admin", {"authorization": f"Bearer {admin}"}, b""),
        ("GET", "/health", {"authorization": "Bearer garbage"}, b""),
        ("GET", "/nowhere", bearer, b""),
        ("GET", "/auth/jwks.json", {}, b""),
        ("HEAD", "/auth/jwks.json", {}, b""),
        ("POST", "/auth/jwks.json", {}, b""),
        ("OPTIONS", "/auth/login", {}, b""),
        ("GET", "/auth/login", {}, b""),
        ("POST", "/auth/login", {"content-type": "text/plain"}, b"subject=a"),
        ("POST", "/auth/login", JSON, b"{"),
        ("POST", "/auth/login", JSON, b"[1]"),
        ("POST", "/auth/login", JSON, b'{"grant_type": "client_credentials"}'),
        ("POST", "/auth/login", FORM, b"grant_type=password&username=a"),
        ("POST", "/auth/login", FORM, b"subject=a&subject=b"),
        ("POST", "/auth/login", JSON, b'{"subject": "' + b"s" * 200 + b'"}'),
        ("POST", "/auth/login", {**JSON, "content-length": "x"}, b"{}"),
        ("POST", "/auth/challenge", JSON, b'{"subject": "x", "scheme": "no-such-scheme"}'),
        ("POST", "/auth/refresh", FORM, b"refresh_token=garbage"),
        ("POST", "/auth/refresh", FORM, b"grant_type=password&refresh_token=x"),
        ("POST", "/auth/revoke", FORM, b"token=garbage"),
        ("POST", "/auth/logout", {}, b""),
        ("POST", "/auth/introspect", {}, b"token=x"),
        ("POST", "/auth/introspect", {**bearer, **FORM}, b"token=x"),
        ("POST", "/auth/introspect", {"authorization": f"Bearer {admin}", **FORM}, b"token=" + read.encode()),
    ]


async def answer(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    async with client(app) as c:
        r: httpx.Response = await c.request(method, path, headers=headers, content=body)
    return r.status_code, sorted(r.headers.multi_items()), r.content


@pytest.mark.parametrize("options", OPTIONS, ids=["bearer", "problem+json"])
async def test_both_drivers_answer_byte_for_byte_alike(tmp_path: Path, options: dict[str, Any]) -> None:
    auth: AuthHooks = make_auth(tmp_path)
    read = (await auth.issue_token("alice", {"scope": "read"})).token
    admin = (await auth.issue_token("root", {"scope": "admin introspect"})).token
    asgi, wsgi = make_app(auth, **options), make_wsgi_app(auth, **options)
    compared = 0
    for method, path, headers, body in requests(read, admin):
        expected = await answer(asgi, method, path, headers, body)
        got = await answer(wsgi, method, path, headers, body)
        assert got == expected, (method, path, headers, body)
        compared += 1
    assert compared > 30
    await auth.aclose()
