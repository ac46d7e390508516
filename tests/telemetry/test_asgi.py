"""Under opentelemetry-instrumentation-asgi a flow records onto the HTTP SERVER span (``flow_spans=auto``), or
nests its own span under it (``always``); what an operator sees for a real protected request in each mode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks, Deny, Principal, Secret, Settings
from authhooks.events import Decision, Outcome
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.middleware import AuthHooksMiddleware

from ._flows import record, run_flow


def _server(spans: Sequence[ReadableSpan]) -> ReadableSpan:
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    return server


async def test_synthetic_flows_record_onto_the_asgi_server_span() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer()

        async def endpoint(request: Request) -> PlainTextResponse:
            run_flow(observer, "validate_token", [record("check_ip", point="validate_token.pre")])
            run_flow(observer, "authorize", [record("deny_all", Decision.DENY, point="authorize.pre", reason="nope")],
                     outcome=Outcome.SHORT_CIRCUIT, reason="nope")  # fmt: skip
            return PlainTextResponse("denied", status_code=403)

        app = OpenTelemetryMiddleware(
            Starlette(routes=[Route("/private", endpoint)]),
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.get("/private", headers={"Authorization": "Bearer abc.def.ghi"})
        assert response.status_code == 403

        server = _server(telemetry.spans())
        assert telemetry.flow_spans("validate_token") == telemetry.flow_spans("authorize") == []
        attrs = dict(server.attributes or {})
        assert attrs["authhooks.validate_token.outcome"] == "success"
        assert attrs["authhooks.authorize.outcome"] == "short_circuit"
        assert attrs["authhooks.authorize.denied_by"] == "deny_all"
        decisions = [
            (e.attributes or {}).get("authhooks.hook.decision") for e in server.events if e.name == "authhooks.hook"
        ]
        assert decisions == ["continue", "deny"]


def _app(telemetry: InMemoryTelemetry, tmp_path: Path, settings: Settings, deny: bool = False) -> tuple[Any, AuthHooks]:
    auth = AuthHooks(
        store_url="memory://",
        secret=Secret("s" * 48),
        state_dir=tmp_path,
        telemetry=False,
        observers=[telemetry.observer(settings)],
    )

    def audit(principal: Principal) -> None:
        return None

    def tier(principal: Principal) -> None:
        return None

    def quota(principal: Principal) -> None:
        if deny:
            raise Deny(403, "over_quota")

    for fn in (audit, tier, quota):
        auth.add_hook("validate_token.post", fn, inline=True, name=fn.__name__)

    async def me(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.identity)

    inner = AuthHooksMiddleware(Starlette(routes=[Route("/me", me)]), auth=auth, protect=["/me"])
    app = OpenTelemetryMiddleware(
        inner, tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    return app, auth


async def _get(app: Any, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("hook_telemetry", ["event", "attributes", "span", "off"])
async def test_a_protected_request_records_onto_the_server_span(tmp_path: Path, hook_telemetry: str) -> None:
    with InMemoryTelemetry() as telemetry:
        app, auth = _app(telemetry, tmp_path, Settings(hook_telemetry=hook_telemetry))  # type: ignore[arg-type]
        token = (await auth.issue_token("alice")).token
        telemetry.clear()
        response = await _get(app, token)
        await auth.aclose()
        assert response.status_code == 200 and response.text == "alice"
        spans = telemetry.spans()
        server = _server(spans)
        assert server.context is not None
        assert telemetry.flow_spans("validate_token") == []  # no own span under a recording server span
        attrs = dict(server.attributes or {})
        assert attrs["authhooks.validate_token.outcome"] == "success"
        assert attrs["authhooks.validate_token.hooks.count"] == 3
        assert isinstance(attrs["authhooks.validate_token.duration_ms"], float)
        hook_events = [e for e in server.events if e.name == "authhooks.hook"]
        hook_spans = telemetry.hook_spans()
        if hook_telemetry == "event":
            assert [(e.attributes or {}).get("authhooks.hook.name") for e in hook_events] == ["audit", "tier", "quota"]
            assert {(e.attributes or {}).get("authhooks.hook.point") for e in hook_events} == {"validate_token.post"}
        else:
            assert hook_events == []
        if hook_telemetry == "attributes":
            assert attrs["authhooks.validate_token.hook.names"] == ("audit", "tier", "quota")
            assert attrs["authhooks.validate_token.hook.decisions"] == ("continue",) * 3
            assert len(attrs["authhooks.validate_token.hook.durations_ms"]) == 3
        else:
            assert "authhooks.validate_token.hook.names" not in attrs
        if hook_telemetry == "span":
            assert len(hook_spans) == 3
            assert all(s.parent is not None and s.parent.span_id == server.context.span_id for s in hook_spans)
        else:
            assert hook_spans == []
        assert telemetry.metric_value("authhooks.flow.outcomes", {"authhooks.flow": "validate_token"}) == 1
        assert telemetry.metric_value("authhooks.hook.decisions") == 3


async def test_a_denial_under_the_server_span_is_recorded_there_without_error(tmp_path: Path) -> None:
    with InMemoryTelemetry() as telemetry:
        app, auth = _app(telemetry, tmp_path, Settings(), deny=True)
        token = (await auth.issue_token("alice")).token
        telemetry.clear()
        response = await _get(app, token)
        await auth.aclose()
        assert response.status_code == 403
        server = _server(telemetry.spans())
        attrs = dict(server.attributes or {})
        assert attrs["authhooks.validate_token.outcome"] == "short_circuit"
        assert attrs["authhooks.validate_token.reason"] == "over_quota"
        assert attrs["authhooks.validate_token.denied_by"] == "quota"
        assert "error.type" not in attrs


async def test_always_nests_an_own_flow_span_under_the_server_span(tmp_path: Path) -> None:
    with InMemoryTelemetry() as telemetry:
        app, auth = _app(telemetry, tmp_path, Settings(flow_spans="always"))
        token = (await auth.issue_token("alice")).token
        telemetry.clear()
        assert (await _get(app, token)).status_code == 200
        await auth.aclose()
        server = _server(telemetry.spans())
        assert server.context is not None
        (flow,) = telemetry.flow_spans("validate_token")
        assert flow.kind is SpanKind.INTERNAL
        assert flow.parent is not None and flow.parent.span_id == server.context.span_id
        assert [(e.attributes or {}).get("authhooks.hook.stage") for e in flow.events] == ["post"] * 3
        assert not any(k.startswith("authhooks.") for k in server.attributes or {})


async def test_without_a_server_span_the_flow_starts_its_own_internal_span(tmp_path: Path) -> None:
    with InMemoryTelemetry() as telemetry:
        app, auth = _app(telemetry, tmp_path, Settings())
        inner = app.app  # the authhooks middleware, without the instrumentation
        token = (await auth.issue_token("alice")).token
        telemetry.clear()
        assert (await _get(inner, token)).status_code == 200
        await auth.aclose()
        (flow,) = telemetry.spans()
        assert flow.name == "authhooks.validate_token" and flow.kind is SpanKind.INTERNAL and flow.parent is None
        assert len(flow.events) == 3
