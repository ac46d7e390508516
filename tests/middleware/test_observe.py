"""Observe mode: the app's own routes bound to flows; decision hooks before, notification hooks after."""

from __future__ import annotations

from typing import Any

import pytest

from authhooks import AuthHooks, ConfigurationError, Deny, Principal
from authhooks.middleware import ObservedRoute

from ._support import Issue, bearer, client, make_app

LOGIN = ObservedRoute("/login", "POST", flow="login", identifier_field="username", scheme="password")


def recorder(auth: AuthHooks, *points: str) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def hook(event: Any) -> None:
        seen.append((event.point, dict(event.data)))

    for point in points:
        auth.add_hook(point, hook, name=f"record_{point}")
    return seen


async def test_login_route_success_and_failure(auth: AuthHooks) -> None:
    seen = recorder(auth, "request.pre", "login.pre", "login.post", "login.failed", "request.post")
    app = make_app(auth, observe=[LOGIN])
    async with client(app) as c:
        ok = await c.post("/login", json={"username": "alice", "password": "right"})
        bad = await c.post("/login", json={"username": "alice", "password": "wrong"})
    assert ok.status_code == 200 and bad.status_code == 401
    assert ok.json()["got"] == {"username": "alice", "password": "right"}  # the body was replayed intact
    points = [p for p, _ in seen]
    assert points == [
        "request.pre",
        "login.pre",
        "login.post",
        "request.post",
        "request.pre",
        "login.pre",
        "login.failed",
        "request.post",
    ]
    pre = dict(seen)["request.pre"]
    assert pre["identifier"] == "alice" and pre["body"]["password"] == "[REDACTED]"
    assert dict(seen)["login.pre"]["subject"] == "alice"
    failed = seen[6][1]
    assert failed["reason"] == "http_401" and failed["scheme"] == "password"
    assert seen[7][1]["status_code"] == 401


async def test_a_denial_answers_before_the_app(auth: AuthHooks) -> None:
    calls: list[str] = []

    def lockout(subject: str | None) -> Deny | None:
        calls.append(str(subject))
        return Deny(423, "account_locked", body={"error": "locked"}) if subject == "mallory" else None

    auth.add_hook("login.pre", lockout)
    app = make_app(auth, observe=[LOGIN])
    async with client(app) as c:
        r = await c.post("/login", data={"username": "mallory", "password": "right"})
        assert r.status_code == 423 and r.json() == {"error": "locked"}
        assert (await c.post("/login", json={"username": "bob", "password": "right"})).status_code == 200
    assert calls == ["mallory", "bob"]


async def test_oversized_observed_body_is_413_and_the_app_is_not_called(auth: AuthHooks) -> None:
    seen = recorder(auth, "request.pre")
    app = make_app(auth, observe=[LOGIN], max_body_bytes=64)
    async with client(app) as c:
        r = await c.post("/login", json={"username": "a" * 100})
    assert r.status_code == 413 and seen == []


async def test_unparsable_body_still_reaches_the_app(auth: AuthHooks) -> None:
    seen = recorder(auth, "login.pre")
    route = ObservedRoute("/public/echo", "POST", flow="login", identifier_field="username")
    async with client(make_app(auth, observe=[route])) as c:
        r = await c.post("/public/echo", content=b"\xff{not json", headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.content == b"\xff{not json"
    assert seen[0][1]["subject"] is None


async def test_invalidate_token_route_sees_the_principal(auth: AuthHooks, issue: Issue) -> None:
    seen: list[tuple[Principal | None, str | None]] = []

    def after(principal: Principal | None, jti: str | None) -> None:
        seen.append((principal, jti))

    auth.add_hook("invalidate_token.post", after)
    route = ObservedRoute("/api/me", "GET", flow="invalidate_token")
    token = await issue("erin")
    async with client(make_app(auth, observe=[route])) as c:
        assert (await c.get("/api/me", headers=bearer(token))).status_code == 200
    assert seen[0][0] is not None and seen[0][0].subject == "erin" and seen[0][1]


async def test_register_flow_and_any_method(auth: AuthHooks) -> None:
    seen = recorder(auth, "register.pre", "register.failed")
    route = ObservedRoute("/login", "*", flow="register", identifier_field="username")
    async with client(make_app(auth, observe=[route])) as c:
        await c.post("/login", json={"username": "new", "password": "wrong"})
    assert [p for p, _ in seen] == ["register.pre", "register.failed"]
    assert seen[1][1] == {"subject": "new", "reason": "http_401", "error": None}


async def test_failing_notification_hooks_never_reach_the_client(auth: AuthHooks) -> None:
    def broken() -> None:
        raise RuntimeError("nope")

    auth.add_hook("request.post", broken, on_error="raise")
    async with client(make_app(auth, observe=[ObservedRoute("/login", flow="request")])) as c:
        r = await c.post("/login", json={"username": "a", "password": "right"})
    assert r.status_code == 200


async def test_failing_decision_hook_fails_closed(auth: AuthHooks) -> None:
    def broken() -> None:
        raise RuntimeError("nope")

    auth.add_hook("request.pre", broken)
    async with client(make_app(auth, observe=[LOGIN])) as c:
        r = await c.post("/login", json={"username": "a", "password": "right"})
    assert r.status_code == 503 and "nope" not in r.text


def test_observed_route_validation() -> None:
    with pytest.raises(ConfigurationError):
        ObservedRoute("/x", flow="logout")  # type: ignore[arg-type]
    assert ObservedRoute("/x", "post").method == "POST"
