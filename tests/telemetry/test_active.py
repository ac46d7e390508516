"""Telemetry costs nothing until an SDK is installed: the observer is inactive while the global providers are
the API's proxies, and the engine then runs flows as if it were absent (the cache fast path included)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from authhooks import AuthHooks
from authhooks.telemetry import TelemetryObserver


def test_inactive_without_sdk_then_active_once_one_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthHooks(store_url="memory://", state_dir=tmp_path)
    observer = auth.observers[0]
    assert isinstance(observer, TelemetryObserver)
    if type(trace.get_tracer_provider()) is not trace.ProxyTracerProvider:
        pytest.skip("a global tracer provider is already installed in this process")
    assert observer.active is False
    assert auth._runtime.watching() == ()
    token = auth.sync.issue_token("alice").token
    auth.sync.validate_token(token)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    assert observer.active is True
    auth.sync.validate_token(token)  # a cache hit, but now observed: a span is recorded
    assert [s.name for s in exporter.get_finished_spans()] == ["authhooks.validate_token"]


def test_disabled_observer_is_never_active() -> None:
    from authhooks import Settings

    assert TelemetryObserver(Settings(telemetry=False)).active is False
    assert TelemetryObserver(Settings(), tracer_provider=TracerProvider()).active is True


def test_once_an_sdk_provider_is_seen_the_globals_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # A global provider is set once per process: active is decided once, not on every flow.
    observer = TelemetryObserver()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", TracerProvider())
    assert observer.active is True
    reads: list[int] = []
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: reads.append(1) or trace.ProxyTracerProvider())
    assert observer.active is True
    assert reads == []
