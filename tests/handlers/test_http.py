"""Handlers behind the real middleware (ASGI and WSGI drivers): rate_limit answers 429 with Retry-After, lockout
403; every action run is a hook run named handler:<name> in telemetry and an audit record of kind `event` linked to
its flow's record by the run id."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from middleware._support import client, make_for

from .conftest import make_auth

RATE = {
    "handler": [
        {
            "name": "throttle",
            "event": "challenge.pre",
            "action": "rate_limit",
            "options": {"limit": 2, "window": "10m", "key": "ip"},
        },
        {"name": "never", "event": "challenge.pre", "action": "log", "conditions": {"subject": "^nobody$"}},
    ]
}


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_rate_limit_is_429_with_retry_after_through_the_middleware(tmp_path: Path, driver: str) -> None:
    auth = make_auth(tmp_path, RATE)
    async with client(make_for(driver, auth)) as c:
        statuses = [(await c.post("/auth/challenge", json={"subject": f"user{i}"})).status_code for i in range(2)]
        refused = await c.post("/auth/challenge", json={"subject": "user3"})
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert 590 < int(refused.headers["retry-after"]) <= 600
    await auth.aclose()


async def test_client_ip_behind_a_trusted_proxy_keys_the_limit(tmp_path: Path, driver: str) -> None:
    auth = make_auth(tmp_path, RATE, trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"])
    async with client(make_for(driver, auth)) as c:
        one = {"x-forwarded-for": "198.51.100.1"}
        two = {"x-forwarded-for": "198.51.100.2"}
        got = [
            (await c.post("/auth/challenge", json={"subject": "a"}, headers=h)).status_code
            for h in (one, one, two, one)
        ]
    assert got == [200, 200, 200, 429]  # each forwarded address has its own window
    await auth.aclose()
    untrusting = make_auth(tmp_path, RATE)
    async with client(make_for(driver, untrusting)) as c:
        got = [(await c.post("/auth/challenge", json={"subject": "a"}, headers=h)).status_code for h in (one, one, two)]
    assert got == [200, 200, 429]  # without trusted proxies the header is ignored: one peer, one window
    await untrusting.aclose()


async def test_events_are_audited_and_linked_to_their_flow(tmp_path: Path, driver: str) -> None:
    log = tmp_path / "audit.jsonl"
    auth = make_auth(tmp_path, RATE, audit_log_file=log)
    async with client(make_for(driver, auth)) as c:
        for _ in range(3):
            await c.post("/auth/challenge", json={"subject": "alice"})
    await auth.aclose()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    events = [r for r in records if r["kind"] == "event"]
    flows = {r["run"]: r for r in records if r["kind"] == "flow"}
    assert [e["hook"]["hook"] for e in events] == ["handler:throttle"] * 3  # "never" was skipped: no record
    assert [e["hook"]["decision"] for e in events] == ["continue", "continue", "deny"]
    for event in events:
        flow = flows[event["run"]]  # the event's flow record
        assert flow["flow"] == "challenge"
        assert [h["hook"] for h in flow["hooks"]] == ["handler:throttle", "handler:never"][: len(flow["hooks"])]
    assert flows[events[-1]["run"]]["outcome"] == "short_circuit"


async def test_a_handler_run_is_a_hook_run_in_telemetry(tmp_path: Path) -> None:
    from authhooks.config import Settings
    from authhooks.exporters.memory import InMemoryTelemetry
    from authhooks.telemetry import names

    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(Settings(hook_telemetry="span", flow_spans="always"))
        auth = make_auth(tmp_path, RATE, telemetry=False, observers=[observer])
        for _ in range(3):
            with contextlib.suppress(Exception):
                await auth.generate_challenge("alice")
        spans = [s for s in telemetry.spans() if s.name == names.SPAN_HOOK]
        hooks = [(s.attributes or {}).get(names.ATTR_HOOK_NAME) for s in spans]
        decisions = [(s.attributes or {}).get(names.ATTR_HOOK_DECISION) for s in spans]
    assert hooks.count("handler:throttle") == 3
    assert "deny" in decisions
    await auth.aclose()


async def test_request_points_of_observed_routes(tmp_path: Path, driver: str) -> None:
    from authhooks.middleware.observe import ObservedRoute

    spec = {
        "handler": [
            {
                "name": "no-mallory-login",
                "event": "request.pre",
                "action": "deny",
                "conditions": {"path": "/login", "method": "POST", "subject": "^mallory$"},
                "options": {"status": 403, "reason": "blocked_subject"},
            },
            {
                "name": "throttle-failed-logins",
                "event": "request.pre",
                "action": "rate_limit",
                "conditions": {"path": "/login"},
                "options": {"limit": 2, "window": "1m", "key": ["ip", "path"]},
            },
        ]
    }
    auth = make_auth(tmp_path, spec)
    observe = [ObservedRoute("/login", "POST", flow="request", identifier_field="username")]
    async with client(make_for(driver, auth, observe=observe)) as c:
        blocked = await c.post("/login", json={"username": "mallory", "password": "right"})
        allowed = await c.post("/login", json={"username": "alice", "password": "right"})
        third = await c.post("/login", json={"username": "alice", "password": "right"})
        throttled = await c.post("/login", json={"username": "alice", "password": "right"})
    # the deny handler comes first and stops the chain: the blocked request is not counted by the rate limit
    assert (blocked.status_code, allowed.status_code, third.status_code) == (403, 200, 200)
    assert throttled.status_code == 429 and throttled.headers["retry-after"].isdigit()
    await auth.aclose()
