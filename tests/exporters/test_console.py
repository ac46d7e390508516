"""The compact console exporter: one line per flow span with its hook decisions."""

from __future__ import annotations

import io

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from authhooks.config import Settings
from authhooks.errors import KeySetUnavailableError
from authhooks.events import Decision, Outcome
from authhooks.exporters.console import CompactConsoleSpanExporter
from authhooks.telemetry import TelemetryObserver
from telemetry._flows import record, report_background, run_flow


def _observer(mode: str = "event", **kwargs: object) -> tuple[TelemetryObserver, io.StringIO]:
    stream = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(stream, **kwargs)))  # type: ignore[arg-type]
    return TelemetryObserver(Settings(hook_telemetry=mode), tracer_provider=provider), stream  # type: ignore[arg-type]


def test_one_line_per_flow_with_decisions_from_events() -> None:
    observer, stream = _observer()
    hooks = [record("rate_limit"), record("add_claim", Decision.MODIFY, point="login.post")]
    run_flow(observer, "login", hooks, duration=0.0032)
    run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="token_expired")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("authhooks.login success ")
    assert lines[0].endswith("ms  rate_limit:continue add_claim:modify")
    assert lines[1].startswith("authhooks.validate_token failure token_expired ")


def test_span_mode_collects_child_spans_and_marks_faults_and_shadows() -> None:
    observer, stream = _observer("span")
    hooks = [record("geo", Decision.SHADOW_DENY, enforced=False), record("check", Decision.CONTINUE)]
    run_flow(observer, "validate_token", hooks, outcome=Outcome.FAILURE, reason="unavailable",
             fault=KeySetUnavailableError())  # fmt: skip
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("authhooks.validate_token failure unavailable ")
    assert "!key_set_unavailable" in line
    assert line.endswith("  ~geo:shadow_deny check:continue")


def test_background_runs_get_their_own_line_and_other_spans_are_skipped() -> None:
    observer, stream = _observer()
    run = run_flow(observer, "login", [record("notify", Decision.QUEUED, point="login.post")])
    report_background(observer, run, record("notify", point="login.post", background=True))
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("notify:queued")
    assert lines[1].startswith("authhooks.hook background notify:continue ") and lines[1].endswith("(login)")


def test_all_spans_prints_foreign_spans_too() -> None:
    stream = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(stream, all_spans=True)))
    with provider.get_tracer("t").start_as_current_span("GET /x"):
        pass
    assert stream.getvalue().startswith("GET /x ")
