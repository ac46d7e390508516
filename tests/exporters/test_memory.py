"""The in-memory telemetry helper."""

from __future__ import annotations

from opentelemetry import trace

from authhooks.exporters import InMemoryTelemetry
from telemetry._flows import record, run_flow


def test_private_providers_spans_and_flattened_metrics() -> None:
    global_provider = trace.get_tracer_provider()
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(flow_durations=True)  # the flow histogram is opt-in
        run_flow(observer, "login", [record("rate_limit")])
        assert [s.name for s in telemetry.spans()] == ["authhooks.login"]
        assert len(telemetry.flow_spans("login")) == 1 and telemetry.flow_spans("logout") == []
        names = {p.name for p in telemetry.metrics()}
        assert {"authhooks.flow.duration", "authhooks.flow.outcomes", "authhooks.hook.decisions"} <= names
        assert telemetry.metric_value("authhooks.flow.outcomes", {"authhooks.flow": "login"}) == 1
        telemetry.clear()
        assert telemetry.spans() == []
    assert trace.get_tracer_provider() is global_provider
