"""The webhook action against a real local receiver: Standard Webhooks signatures verified by the independent
``standardwebhooks`` package, no secret in the payload, trace context, retries through failures and a hang, the
circuit breaker (open, half-open, closed) and its metric, decision answers that deny or update."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from authhooks import Deny
from authhooks.errors import HookFailed

from .conftest import WEBHOOK_SECRET, make_auth
from .receiver import Answer, Receiver, json_body


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)


def _hook(receiver: Receiver, event: str = "issue_token.post", **options: Any) -> dict[str, Any]:
    opts = {"url": receiver.url, "secret_env": "WEBHOOK_SECRET", "backoff": 0.0, **options}  # type: ignore[attr-defined]
    extra = {k: opts.pop(k) for k in ("on_error", "background") if k in opts}
    if "handler_timeout" in opts:
        extra["timeout"] = opts.pop("handler_timeout")
    return {"handler": [{"name": "notify", "event": event, "action": "webhook", "options": opts, **extra}]}


async def test_signed_delivery_under_the_async_api(tmp_path: Path, receiver: Receiver) -> None:
    auth = make_auth(tmp_path, _hook(receiver, event="login.post"), record_subject=True)

    @auth.hook("login.provide", inline=True)
    def password(subject: str, credentials: Any) -> Any:
        return subject if credentials.get("password") == "hunter2" else False

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        pair = await auth.login("alice", {"password": "hunter2"}, scheme="password")
    (got,) = receiver.requests
    assert isinstance(got.verified, dict), got.verified  # standardwebhooks accepted the signature
    assert got.verified["type"] == "login.post"
    data = got.verified["data"]
    assert (data["handler"], data["point"], data["outcome"], data["subject"]) == (
        "notify",
        "login.post",
        "success",
        "alice",
    )
    text = got.body.decode()
    for secret in (pair.access_token, pair.refresh_token, "hunter2", WEBHOOK_SECRET, WEBHOOK_SECRET[6:]):
        assert secret not in text and all(secret not in v for v in got.headers.values())
    assert got.headers["webhook-id"].startswith("msg_")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert got.headers["traceparent"].split("-")[1] == trace_id


def test_signed_delivery_under_the_sync_api(tmp_path: Path, receiver: Receiver) -> None:
    auth = make_auth(tmp_path, _hook(receiver))
    auth.sync.issue_tokens("bob")
    assert receiver.requests and all(isinstance(r.verified, dict) for r in receiver.requests)
    assert receiver.requests[0].verified["data"]["subject"] is None  # no record_subject: no subject
    assert "traceparent" not in receiver.requests[0].headers  # no span current: nothing to propagate


async def test_retries_through_failures_and_a_hang(tmp_path: Path, receiver: Receiver) -> None:
    release = __import__("threading").Event()
    receiver.answer(Answer(503), Answer(200, hang=release), Answer(500), Answer(200))
    auth = make_auth(tmp_path, _hook(receiver, event="challenge.post", retries=3, timeout=0.5))
    await auth.generate_challenge("carol")
    release.set()
    assert len(receiver.requests) == 4
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # one message, retried
    assert all(isinstance(r.verified, dict) for r in receiver.requests)  # each attempt signed afresh


async def test_a_failed_delivery_follows_on_error(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default = Answer(500)
    auth = make_auth(tmp_path, _hook(receiver, event="challenge.pre", retries=1, on_error="deny"))
    with pytest.raises(HookFailed):
        await auth.generate_challenge("dan")
    assert len(receiver.requests) == 2
    auth.load_handlers(_hook(receiver, event="challenge.pre", retries=0, on_error="ignore"))
    await auth.generate_challenge("dan")  # isolated: the flow succeeds
    receiver.default = Answer(404)
    auth.load_handlers(_hook(receiver, event="challenge.pre", retries=5, on_error="deny"))
    before = len(receiver.requests)
    with pytest.raises(HookFailed):
        await auth.generate_challenge("dan")
    assert len(receiver.requests) == before + 1  # a 4xx is not retried


async def test_the_breaker_opens_goes_half_open_and_closes(tmp_path: Path, receiver: Receiver) -> None:
    receiver.default = Answer(500)
    spec = _hook(receiver, event="challenge.post", retries=0, breaker_failures=2, breaker_cooldown="30s")
    auth = make_auth(tmp_path, spec)
    now = [1000.0]
    breakers = auth.handlers.env.breakers
    breakers.clock = lambda: now[0]
    target = f"http://127.0.0.1:{receiver.server.server_address[1]}/hook"
    for _ in range(2):
        await auth.generate_challenge("erin")  # notification point: failures are logged, the flow succeeds
    assert breakers.states() == {target: "open"} and len(receiver.requests) == 2
    await auth.generate_challenge("erin")
    assert len(receiver.requests) == 2  # refused without a request
    now[0] += 31
    assert breakers.states() == {target: "half_open"}
    await auth.generate_challenge("erin")  # the trial fails: open again
    assert len(receiver.requests) == 3 and breakers.states() == {target: "open"}
    now[0] += 31
    receiver.default = Answer(200)
    await auth.generate_challenge("erin")  # the trial succeeds: closed
    assert breakers.states() == {target: "closed"} and len(receiver.requests) == 4
    auth.load_handlers(spec)  # a reload keeps the breakers
    assert auth.handlers.env.breakers is breakers


def test_breaker_state_is_a_metric() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from authhooks.handlers.breaker import Breakers
    from authhooks.telemetry import names

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    breakers = Breakers(meter=provider.get_meter("authhooks"))
    breaker = breakers.get("https://user:pw@hooks.example/x?token=1", threshold=1, cooldown=60)
    breaker.admit()
    breaker.failed()
    data = reader.get_metrics_data()
    points = {
        m.name: [(dict(p.attributes or {}), p.value) for p in m.data.data_points]  # type: ignore[union-attr]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    target = {names.ATTR_WEBHOOK_TARGET: "https://hooks.example/x"}  # no credentials, no query
    assert points[names.METRIC_WEBHOOK_BREAKER] == [(target, 2)]
    assert ({**target, names.ATTR_WEBHOOK_RESULT: "failed"}, 1) in points[names.METRIC_WEBHOOK_DELIVERIES]
    provider.shutdown()


async def test_decision_answers_deny_or_update(tmp_path: Path, receiver: Receiver) -> None:
    auth = make_auth(tmp_path, _hook(receiver, event="challenge.pre", decision=True))
    receiver.answer(json_body({"deny": {"status": 403, "reason": "risky_subject"}}))
    with pytest.raises(Deny) as denied:
        await auth.generate_challenge("frank")
    assert (denied.value.status, denied.value.reason) == (403, "risky_subject")
    receiver.answer(json_body({"update": {"expire_minutes": 1}}))
    challenge = await auth.generate_challenge("frank")
    assert challenge.expires_at - auth.clock() <= 61
    receiver.answer(json_body({"update": {"subject": "someone-else", "nonsense": 1}}))
    with pytest.raises(HookFailed):  # an input the point does not let hooks change: a failure (deny policy)
        await auth.generate_challenge("frank")
    receiver.answer(Answer(200, b"not json"))
    with pytest.raises(HookFailed):
        await asyncio.to_thread(auth.sync.generate_challenge, "frank")
    receiver.answer(Answer(204))
    await asyncio.to_thread(auth.sync.generate_challenge, "frank")  # an empty answer changes nothing


async def test_background_delivery_and_the_handler_timeout(tmp_path: Path, receiver: Receiver) -> None:
    auth = make_auth(tmp_path, _hook(receiver, event="challenge.post", background=True))
    await auth.generate_challenge("gina")  # answered at once; the delivery happens on the background worker
    assert receiver.arrived.acquire(timeout=10)
    assert isinstance(receiver.requests[0].verified, dict)
    release = __import__("threading").Event()
    receiver.answer(Answer(200, hang=release))
    auth.load_handlers(_hook(receiver, event="challenge.pre", handler_timeout=0.2, retries=0, on_error="deny"))
    with pytest.raises(HookFailed):  # the handler's timeout bounds the whole delivery
        await auth.generate_challenge("gina")
    release.set()
    await auth.aclose()
