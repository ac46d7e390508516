"""What an operator sees for every flow and every decision in each hook mode, on a host (server) span and on a
flow's own span; and the same over a real OTLP/HTTP export to a local receiver."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.trace import SpanKind, StatusCode

from _otlp import otlp_collector
from authhooks.config import Settings
from authhooks.events import Decision, Flow, Outcome
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.telemetry import TelemetryObserver

from ._flows import record, run_flow


@pytest.fixture
def telemetry() -> Iterator[InMemoryTelemetry]:
    with InMemoryTelemetry() as t:
        yield t


@pytest.mark.parametrize("flow", [f.value for f in Flow])
def test_every_flow_records_under_its_own_prefix_on_a_server_span(telemetry: InMemoryTelemetry, flow: str) -> None:
    observer = telemetry.observer()
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, flow, [record("h", point=f"{flow}.pre")], outcome=Outcome.FAILURE, reason="nope")
    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert attrs[f"authhooks.{flow}.outcome"] == "failure"
    assert attrs[f"authhooks.{flow}.reason"] == "nope"
    assert attrs[f"authhooks.{flow}.hooks.count"] == 1
    assert isinstance(attrs[f"authhooks.{flow}.duration_ms"], float)
    (event,) = span.events
    assert (event.attributes or {})["authhooks.hook.point"] == f"{flow}.pre"


@pytest.mark.parametrize("decision", list(Decision))
def test_every_decision_as_an_event_on_a_server_span(telemetry: InMemoryTelemetry, decision: Decision) -> None:
    observer = telemetry.observer()
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, "login", [record("the_hook", decision, enforced=decision is not Decision.SHADOW_DENY)])
    (span,) = telemetry.spans()
    (event,) = span.events
    attrs = dict(event.attributes or {})
    assert attrs["authhooks.hook.name"] == "the_hook"
    assert attrs["authhooks.hook.decision"] == decision.value
    assert attrs["authhooks.hook.point"] == "login.pre"
    failed = decision in (Decision.ERROR, Decision.TIMEOUT)
    assert ("error.type" in attrs) is failed
    assert (attrs.get("authhooks.hook.enforced") is False) is (decision is Decision.SHADOW_DENY)
    assert span.status.status_code is StatusCode.UNSET  # a hook run under the ignore policy is no fault


@pytest.mark.parametrize("host", [True, False], ids=["server_span", "own_span"])
@pytest.mark.parametrize("decision", list(Decision))
def test_every_decision_in_the_attributes_arrays(telemetry: InMemoryTelemetry, decision: Decision, host: bool) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="attributes"))
    hooks = [record("first"), record("the_hook", decision, duration=0.002)]
    if host:
        with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
            run_flow(observer, "login", hooks)
        (span,) = telemetry.spans()
        prefix = "authhooks.login.hook."
    else:
        run_flow(observer, "login", hooks)
        (span,) = telemetry.flow_spans("login")
        prefix = "authhooks.hook."
    attrs = dict(span.attributes or {})
    assert span.events == ()
    assert attrs[prefix + "names"] == ("first", "the_hook")
    assert attrs[prefix + "decisions"] == ("continue", decision.value)
    assert attrs[prefix + "durations_ms"] == pytest.approx((1.0, 2.0))


def test_a_hook_failing_closed_under_a_server_span_is_a_fault_there(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="attributes"))
    failing = record("check_ip", Decision.TIMEOUT, error_type="TimeoutError", reason="hook_timeout")
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, "login", [failing], outcome=Outcome.SHORT_CIRCUIT, reason="hook_timeout")
    (span,) = telemetry.spans()
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == "hook_timeout"
    assert attrs["authhooks.login.denied_by"] == "check_ip"
    assert attrs["authhooks.login.hooks.failed"] == 1


# -- over OTLP/HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    with otlp_collector() as server:
        yield server


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    return getattr(v, kind)


@pytest.mark.parametrize("mode", ["event", "attributes"])
def test_a_server_span_carries_the_flow_over_otlp(collector: ThreadingHTTPServer, mode: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{collector.server_address[1]}/v1/traces", timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = TelemetryObserver(Settings(hook_telemetry=mode), tracer_provider=provider)  # type: ignore[arg-type]
    with provider.get_tracer("test").start_as_current_span("GET /private", kind=SpanKind.SERVER):
        run_flow(observer, "validate_token", [record("audit", point="validate_token.post"),
                                              record("quota", Decision.DENY, point="validate_token.post", reason="q")],
                 outcome=Outcome.SHORT_CIRCUIT, reason="q")  # fmt: skip
    provider.shutdown()

    requests: list[ExportTraceServiceRequest] = collector.requests  # type: ignore[attr-defined]
    spans = [s for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    (span,) = spans  # the server span only: the flow started none
    attrs = {a.key: _value(a.value) for a in span.attributes}
    assert attrs["authhooks.validate_token.outcome"] == "short_circuit"
    assert attrs["authhooks.validate_token.reason"] == "q"
    assert attrs["authhooks.validate_token.denied_by"] == "quota"
    if mode == "event":
        assert [e.name for e in span.events] == ["authhooks.hook", "authhooks.hook"]
        decisions = [{a.key: _value(a.value) for a in e.attributes}["authhooks.hook.decision"] for e in span.events]
        assert decisions == ["continue", "deny"]
    else:
        assert list(span.events) == []
        assert attrs["authhooks.validate_token.hook.names"] == ("audit", "quota")
        assert attrs["authhooks.validate_token.hook.decisions"] == ("continue", "deny")
        assert len(attrs["authhooks.validate_token.hook.durations_ms"]) == 2
