"""In-memory telemetry for tests: private SDK providers whose spans and metric points can be inspected.

::

    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer()          # a TelemetryObserver bound to these providers
        ...                                      # run flows
        (span,) = telemetry.flow_spans("login")
        assert telemetry.metric_value("authhooks.flow.outcomes", {"authhooks.outcome": "success"}) == 1

Nothing is registered globally; the providers are shut down on exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from authhooks.config import Settings
from authhooks.telemetry import names
from authhooks.telemetry.tracing import TelemetryObserver

__all__ = ["InMemoryTelemetry", "MetricPoint"]


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point of one metric, flattened.

    Attributes:
        name: the metric name.
        unit: its unit.
        attributes: the point's attributes.
        value: the sum for a counter; the sum of the recorded values for a histogram.
        count: the number of recordings for a histogram; the value for a counter.
        bucket_counts: the histogram buckets (empty for a counter).
        explicit_bounds: the histogram bucket boundaries (empty for a counter).
    """

    name: str
    unit: str
    attributes: Mapping[str, Any]
    value: float
    count: float
    bucket_counts: tuple[int, ...] = field(default=())
    explicit_bounds: tuple[float, ...] = field(default=())


class InMemoryTelemetry:
    """A private ``TracerProvider`` (``InMemorySpanExporter`` + ``SimpleSpanProcessor``) and ``MeterProvider``
    (``InMemoryMetricReader``); use as a context manager or call :meth:`shutdown`.

    Attributes:
        tracer_provider: the SDK tracer provider.
        meter_provider: the SDK meter provider.
        span_exporter: the in-memory span exporter.
        metric_reader: the in-memory metric reader.
    """

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    def __enter__(self) -> InMemoryTelemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Shut both providers down."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    def observer(self, settings: Settings | None = None, **kwargs: Any) -> TelemetryObserver:
        """A :class:`TelemetryObserver` recording into these providers (``settings`` default: ``Settings()``)."""
        return TelemetryObserver(
            settings if settings is not None else Settings(),
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **kwargs,
        )

    # -- spans -----------------------------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def flow_spans(self, flow: str) -> list[ReadableSpan]:
        """The finished ``authhooks.<flow>`` spans."""
        name = names.flow_span_name(flow)
        return [span for span in self.spans() if span.name == name]

    def hook_spans(self) -> list[ReadableSpan]:
        """The finished ``authhooks.hook`` spans."""
        return [span for span in self.spans() if span.name == names.SPAN_HOOK]

    def clear(self) -> None:
        """Forget the finished spans (metrics are cumulative and stay)."""
        self.span_exporter.clear()

    # -- metrics ---------------------------------------------------------------------------------------------

    def metrics(self) -> list[MetricPoint]:
        """Collect now and return every data point, flattened (cumulative values)."""
        data = self.metric_reader.get_metrics_data()
        points: list[MetricPoint] = []
        if data is None:
            return points
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        attrs = dict(point.attributes or {})
                        if isinstance(point, HistogramDataPoint):
                            points.append(
                                MetricPoint(
                                    metric.name,
                                    metric.unit or "",
                                    attrs,
                                    point.sum,
                                    point.count,
                                    tuple(point.bucket_counts),
                                    tuple(point.explicit_bounds),
                                )
                            )
                        elif isinstance(point, NumberDataPoint):
                            points.append(MetricPoint(metric.name, metric.unit or "", attrs, point.value, point.value))
        return points

    def metric_points(self, name: str, attributes: Mapping[str, Any] | None = None) -> list[MetricPoint]:
        """The points of metric ``name`` whose attributes include ``attributes``."""
        wanted = dict(attributes or {})
        return [
            p for p in self.metrics() if p.name == name and all(p.attributes.get(k) == v for k, v in wanted.items())
        ]

    def metric_value(self, name: str, attributes: Mapping[str, Any] | None = None) -> float:
        """Sum of ``count`` over the matching points: the counter total, or the number of histogram recordings."""
        return sum(p.count for p in self.metric_points(name, attributes))
