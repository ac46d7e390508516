"""The compact console lines of flows that recorded onto a span they do not own (the HTTP server span, or an
enclosing flow's span): the same line as for a flow's own span, one per flow."""

from __future__ import annotations

import io

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from authhooks.config import Settings
from authhooks.errors import KeySetUnavailableError
from authhooks.events import Decision, Outcome
from authhooks.exporters.console import CompactConsoleSpanExporter
from authhooks.hooks.observer import FlowRun
from authhooks.telemetry import TelemetryObserver

from ._flows import record, run_flow


def _setup(mode: str, *, all_spans: bool = False) -> tuple[TelemetryObserver, TracerProvider, io.StringIO]:
    stream = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(stream, all_spans=all_spans)))
    return TelemetryObserver(Settings(hook_telemetry=mode), tracer_provider=provider), provider, stream  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["event", "attributes", "span"])
def test_one_line_per_flow_recorded_on_the_server_span(mode: str) -> None:
    observer, provider, stream = _setup(mode)
    with provider.get_tracer("test").start_as_current_span("POST /auth/login", kind=SpanKind.SERVER):
        run_flow(observer, "challenge", [record("rate_limit", point="challenge.pre")], duration=0.0012)
        run_flow(observer, "login", [record("geo", Decision.DENY, point="login.pre", reason="geo")],
                 outcome=Outcome.SHORT_CIRCUIT, reason="geo")  # fmt: skip
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == "authhooks.challenge success 1.2ms  rate_limit:continue"
    assert lines[1].startswith("authhooks.login short_circuit geo ")
    assert lines[1].endswith("ms  geo:deny")


def test_a_fault_on_the_server_span_is_marked() -> None:
    observer, provider, stream = _setup("event")
    with provider.get_tracer("test").start_as_current_span("GET /me", kind=SpanKind.SERVER):
        run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="key_set_unavailable",
                 fault=KeySetUnavailableError("down"))  # fmt: skip
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("authhooks.validate_token failure key_set_unavailable ")
    assert line.endswith("ms !key_set_unavailable")


def test_a_server_span_without_flows_is_skipped_unless_all_spans() -> None:
    for all_spans, expected in ((False, 0), (True, 1)):
        _, provider, stream = _setup("event", all_spans=all_spans)
        with provider.get_tracer("test").start_as_current_span("GET /public", kind=SpanKind.SERVER):
            pass
        assert len(stream.getvalue().splitlines()) == expected


def test_a_nested_flow_on_its_parents_span_gets_its_own_line() -> None:
    observer, _, stream = _setup("event")
    outer = FlowRun("login")
    observer.flow_started(outer)
    run_flow(observer, "verify_signature", [record("check_key", point="verify_signature.pre")])
    rec = record("rate_limit", point="login.pre")
    outer.hooks.append(rec)
    observer.hook_ran(outer, rec)
    outer.outcome = Outcome.SUCCESS
    observer.flow_ended(outer)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("authhooks.login success ") and lines[0].endswith("ms  rate_limit:continue")
    assert lines[1].startswith("authhooks.verify_signature success ")
    assert lines[1].endswith("ms  check_key:continue")
