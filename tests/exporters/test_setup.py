"""setup(): providers from OTEL_*, only when none is installed; a real OTLP/HTTP export to a local receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from _otlp import otlp_collector
from authhooks.errors import ConfigurationError
from authhooks.exporters.setup import setup


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    with otlp_collector() as server:
        yield server


_SCRIPT = textwrap.dedent(
    """
    from authhooks.config import Settings
    from authhooks.events import Decision, Outcome
    from authhooks.hooks.observer import FlowRun, HookRecord
    from authhooks.telemetry import TelemetryObserver, setup

    handle = setup(Settings(service_name="fallback-name"))
    assert handle.installed, handle
    observer = TelemetryObserver(Settings())
    run = FlowRun("login", subject="alice@example.org")
    observer.flow_started(run)
    rec = HookRecord("rate_limit", "login.pre", "pre", Decision.CONTINUE, 0.001)
    run.hooks.append(rec)
    observer.hook_ran(run, rec)
    run.outcome, run.reason, run.duration = Outcome.FAILURE, "invalid_credentials", 0.002
    observer.flow_ended(run)
    handle.shutdown()
    handle.shutdown()
    print("done")
    """
)


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AUTHHOOKS_"))}
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.slow
def test_otlp_http_export_reaches_a_collector(collector: ThreadingHTTPServer) -> None:
    port = collector.server_address[1]
    result = _run(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_SERVICE_NAME": "svc-under-test",
        }
    )
    assert result.returncode == 0, result.stderr
    requests: list[ExportTraceServiceRequest] = collector.requests  # type: ignore[attr-defined]
    spans = [
        (resource_spans, span)
        for request in requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert [span.name for _, span in spans] == ["authhooks.login"]
    resource, span = spans[0]
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    assert service == "svc-under-test"
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["authhooks.outcome"].string_value == "failure"
    assert attrs["authhooks.reason"].string_value == "invalid_credentials"
    assert attrs["authhooks.hooks.count"].int_value == 1
    assert [e.name for e in span.events] == ["authhooks.hook"]
    event = {a.key: a.value for a in span.events[0].attributes}
    assert event["authhooks.hook.decision"].string_value == "continue"
    assert span.kind == 1  # SPAN_KIND_INTERNAL
    assert b"alice@example.org" not in b"".join(r.SerializeToString() for r in requests)


@pytest.mark.slow
def test_service_name_falls_back_to_settings_and_compact_console_prints(collector: ThreadingHTTPServer) -> None:
    result = _run({"OTEL_TRACES_EXPORTER": "compact"})
    assert result.returncode == 0, result.stderr
    assert "authhooks.login failure invalid_credentials" in result.stderr
    assert "rate_limit:continue" in result.stderr


@pytest.mark.slow
def test_sdk_disabled_installs_nothing() -> None:
    result = _run({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "compact"})
    assert result.returncode == 1  # the script's assert: nothing installed
    assert "authhooks.login" not in result.stderr


def test_a_provider_already_installed_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    existing = TracerProvider()
    monkeypatch.setattr("opentelemetry.trace.get_tracer_provider", lambda: existing)
    handle = setup(exporter="compact")
    assert handle.tracer_provider is None and handle.meter_provider is None and not handle.installed
    assert handle.force_flush() is True
    handle.shutdown()
    existing.shutdown()


def test_disabled_sdk_returns_an_empty_handle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "TRUE")
    with setup() as handle:
        assert not handle.installed


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_METRICS_EXPORTER": "prometheus"}, "OTEL_METRICS_EXPORTER"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str) -> None:
    import importlib.util

    if "grpc" in env.values() and importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None:
        pytest.skip("the grpc exporter is installed")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=named):
        setup()
