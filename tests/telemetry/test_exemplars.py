"""The SDK authhooks builds (``setup()``) takes no exemplars unless ``OTEL_METRICS_EXEMPLAR_FILTER`` asks."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, MetricReader
from opentelemetry.sdk.trace import TracerProvider

from authhooks.errors import ConfigurationError
from authhooks.exporters import setup as sdk_setup


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> InMemoryMetricReader:
    """setup() builds its meter provider around an in-memory reader and installs nothing globally."""
    memory = InMemoryMetricReader()

    def metric_reader(name: str, environ: object) -> MetricReader:
        return memory

    monkeypatch.setattr(sdk_setup, "_metric_reader", metric_reader)
    monkeypatch.setattr(sdk_setup, "_tracer_provider_installed", lambda: True)
    monkeypatch.setattr(sdk_setup, "_meter_provider_installed", lambda: False)
    monkeypatch.setattr("opentelemetry.metrics.set_meter_provider", lambda provider: None)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "console")
    return memory


def _exemplars_in_a_sampled_span(reader: InMemoryMetricReader) -> list[object]:
    handle = sdk_setup.setup()
    try:
        assert handle.meter_provider is not None
        histogram = handle.meter_provider.get_meter("test").create_histogram("test.duration")
        tracer_provider = TracerProvider()
        with tracer_provider.get_tracer("test").start_as_current_span("GET /"):
            histogram.record(0.5)
        data = reader.get_metrics_data()
        assert data is not None
        (point,) = [
            p
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            for p in m.data.data_points
            if isinstance(p, HistogramDataPoint)
        ]
        return list(point.exemplars)
    finally:
        handle.shutdown()


def test_exemplars_are_off_by_default(reader: InMemoryMetricReader) -> None:
    assert _exemplars_in_a_sampled_span(reader) == []


def test_exemplars_when_asked(reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based")
    assert len(_exemplars_in_a_sampled_span(reader)) == 1


def test_an_unknown_exemplar_filter_names_the_variable(
    reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes")
    with pytest.raises(ConfigurationError, match="OTEL_METRICS_EXEMPLAR_FILTER"):
        sdk_setup.setup()
