"""Under opentelemetry-instrumentation-asgi the flow span nests under the HTTP SERVER span."""

from __future__ import annotations

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks.events import Decision, Outcome
from authhooks.exporters.memory import InMemoryTelemetry

from ._flows import record, run_flow


async def test_flow_spans_nest_under_the_asgi_server_span() -> None:
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

        (server,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
        assert server.context is not None
        for flow in ("validate_token", "authorize"):
            (span,) = telemetry.flow_spans(flow)
            assert span.parent is not None and span.parent.span_id == server.context.span_id
            assert span.context is not None and span.context.trace_id == server.context.trace_id
        (authorize,) = telemetry.flow_spans("authorize")
        assert authorize.attributes is not None and authorize.attributes["authhooks.outcome"] == "short_circuit"
        assert authorize.events[0].attributes is not None
        assert authorize.events[0].attributes["authhooks.hook.decision"] == "deny"
