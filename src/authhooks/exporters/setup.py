"""Opt-in SDK set-up: ``authhooks.telemetry.setup()`` builds and registers tracer and meter providers.

It lives among the exporters because it builds them (``compact`` is :mod:`authhooks.exporters.console`);
:mod:`authhooks.telemetry` offers it under its public name, imported on first access.

A library must not install a global provider behind the application's back, and the global provider can be set
only once; so :func:`setup` installs an SDK provider only when none is installed yet (the application's own, or
``opentelemetry-instrument``'s, wins) and hands back a :class:`TelemetryHandle` that flushes and shuts down only
what it created.

Configuration is the standard OpenTelemetry environment (spec ``sdk-environment-variables.md``):

- ``OTEL_SDK_DISABLED=true``: nothing is installed.
- ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``: the resource; without a service name,
  ``Settings.service_name`` is used.
- ``OTEL_TRACES_EXPORTER``: comma list of ``console``, ``otlp``, ``zipkin`` (needs
  ``opentelemetry-exporter-zipkin-proto-http`` or ``-zipkin-json``, else a
  :class:`~authhooks.errors.ConfigurationError` naming the package; endpoint from
  ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``), ``compact`` (the authhooks one-line console exporter) or ``none``. Unset
  means ``none``, as in the Python SDK without a distro (the spec default ``otlp`` is what
  ``opentelemetry-distro`` sets); the ``exporter=`` argument wins over the variable.
- ``OTEL_METRICS_EXPORTER``: ``console``, ``otlp`` or ``none`` (unset: ``none``); without a metrics exporter no
  meter provider is installed.
- ``OTEL_METRICS_EXEMPLAR_FILTER``: ``always_off`` (**the default here**; the spec's is ``trace_based``),
  ``trace_based`` or ``always_on``. An exemplar adds about 2 µs to every histogram measurement taken inside a
  sampled span (the SDK samples the span context and keeps a reservoir), and authhooks' histograms are opt-in
  for the same reason (product.md §8); ask for them explicitly.
- ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` / ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`` /
  ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf`` (default, the spec's) or ``grpc`` (needs the optional
  ``opentelemetry-exporter-otlp-proto-grpc`` package, else a :class:`~authhooks.errors.ConfigurationError`
  naming the variable). Endpoints, headers, timeouts and ``OTEL_BSP_*`` are read by the SDK itself.

OTLP and Zipkin spans go through a ``BatchSpanProcessor``; console spans through a ``SimpleSpanProcessor``
(printed at once).
:func:`setup` also installs the :class:`~authhooks._redact.RedactingFilter` on the ``authhooks`` loggers.
The SDK is imported only when :func:`setup` runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from authhooks._redact import install_redacting_filter
from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.hooks.deadlines import run_in_thread

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import ExemplarFilter, MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["TelemetryHandle", "setup"]

_TRACE_EXPORTERS = frozenset({"console", "otlp", "zipkin", "compact", "none"})
_ZIPKIN_MODULES = ("opentelemetry.exporter.zipkin.proto.http", "opentelemetry.exporter.zipkin.json")
"""Where a Zipkin ``ZipkinExporter`` may live, preferred first (the packages
``opentelemetry-exporter-zipkin-proto-http`` and ``-zipkin-json``; ``opentelemetry-exporter-zipkin`` has both)."""
_METRIC_EXPORTERS = frozenset({"console", "otlp", "none"})
_EXEMPLAR_FILTERS = ("always_off", "trace_based", "always_on")
_PROTOCOLS = ("http/protobuf", "grpc")

logger = logging.getLogger("authhooks.telemetry")


class TelemetryHandle:
    """What :func:`setup` created: flush it on shutdown (the ASGI lifespan does), and nothing else.

    Attributes:
        tracer_provider: the SDK tracer provider this call installed, or ``None`` (one was already installed,
            the SDK is disabled).
        meter_provider: likewise for metrics (``None`` too when no metrics exporter is configured).
    """

    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` / :meth:`ashutdown` was called (the providers are shut down or abandoned)."""
        return self._closed

    @property
    def installed(self) -> bool:
        """True when this handle owns at least one provider."""
        return self.tracer_provider is not None or self.meter_provider is not None

    def __repr__(self) -> str:
        return (
            f"TelemetryHandle(tracer_provider={self.tracer_provider is not None}, "
            f"meter_provider={self.meter_provider is not None}, closed={self._closed})"
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what the owned providers hold; True when everything was exported in time."""
        if self._closed:
            return True
        ok = True
        if self.tracer_provider is not None:
            ok = self.tracer_provider.force_flush(timeout_millis) and ok
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and shut down the owned providers, within ``timeout`` seconds; later calls do nothing.

        With a ``timeout`` each provider is shut down in a daemon thread of its own, abandoned when the budget
        runs out (an OTLP collector that is down or never answers: the exporter's own timeout and retries take
        10 s and more), so the caller, and the process exit, are never held longer. ``None`` waits as long as the
        SDK takes.

        Returns:
            True when the providers were shut down in time.
        """
        if self._closed:
            return True
        self._closed = True
        try:
            self._shutdown_providers(timeout)
        except TimeoutError:
            return self._finished(False, timeout or 0.0)
        return True

    async def ashutdown(self, timeout: float) -> bool:
        """:meth:`shutdown` with a ``timeout``, awaited without blocking the event loop."""
        if self._closed:
            return True
        self._closed = True
        try:
            finished = await run_in_thread(
                lambda: self._shutdown_providers(timeout), timeout + 0.05, "authhooks-telemetry-shutdown"
            )
        except TimeoutError:
            finished = False
        return self._finished(finished, timeout)

    @staticmethod
    def _finished(finished: bool, timeout: float) -> bool:
        if not finished:
            logger.warning("authhooks: telemetry shutdown abandoned after %.1f s; unexported data is lost", timeout)
        return finished

    def _shutdown_providers(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout

        def traces() -> None:
            if self.tracer_provider is not None:
                # shutdown() exports what the batch processor holds. No force_flush() first: the SDK (1.45)
                # ignores its timeout (opentelemetry-python#4568) and, stuck on a dead collector, it would hold
                # the export lock that the SDK's at-exit shutdown then waits for, up to 30 s, at process exit.
                self.tracer_provider.shutdown()

        def meters() -> None:
            if self.meter_provider is not None:
                left = 30.0 if deadline is None else max(0.0, deadline - time.monotonic())
                self.meter_provider.shutdown(timeout_millis=left * 1000)

        if deadline is None:
            traces()
            meters()
            return
        # Both at once, each in its own daemon thread: a provider whose shutdown has begun is not shut down again
        # by the SDK's at-exit hook, which would otherwise wait on the dead collector after our budget.
        threads = [
            threading.Thread(target=_logged(fn), name="authhooks-telemetry-shutdown", daemon=True)
            for fn in (traces, meters)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            raise TimeoutError("telemetry shutdown ran past its budget")

    def __enter__(self) -> TelemetryHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _logged(fn: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except Exception as exc:
            logger.warning("authhooks: telemetry shutdown failed with %s", type(exc).__name__)

    return run


def _names(environ: Mapping[str, str], variable: str, allowed: frozenset[str]) -> list[str]:
    raw = environ.get(variable, "").strip()
    names = [n.strip().lower() for n in raw.split(",") if n.strip()] if raw else []
    for name in names:
        if name not in allowed:
            raise ConfigurationError(
                f"{variable}={raw!r}: unknown exporter {name!r}; expected a comma list of {sorted(allowed)}"
            )
    return [n for n in names if n != "none"]


def _protocol(environ: Mapping[str, str], signal: str) -> tuple[str, str]:
    for variable in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = environ.get(variable, "").strip().lower()
        if value:
            if value not in _PROTOCOLS:
                raise ConfigurationError(f"{variable}={value!r}: expected one of {list(_PROTOCOLS)}")
            return value, variable
    return "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL"


def _check_protocol(environ: Mapping[str, str], signal: str) -> None:
    protocol, variable = _protocol(environ, signal)
    if protocol != "grpc":
        return
    try:
        missing = importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None
    except ImportError:  # not even the parent package
        missing = True
    if missing:
        raise _grpc_missing(variable)


def _grpc_missing(variable: str) -> ConfigurationError:
    return ConfigurationError(
        f"{variable}=grpc needs the opentelemetry-exporter-otlp-proto-grpc package "
        "(pip install opentelemetry-exporter-otlp-proto-grpc), or set it to http/protobuf"
    )


def _zipkin_module() -> str:
    """The first importable Zipkin exporter module.

    Raises:
        ConfigurationError: neither package is installed (the message names them).
    """
    for module in _ZIPKIN_MODULES:
        try:
            if importlib.util.find_spec(module) is not None:
                return module
        except ImportError:  # not even the parent package
            continue
    raise ConfigurationError(
        "OTEL_TRACES_EXPORTER=zipkin needs the opentelemetry-exporter-zipkin-proto-http package "
        "(pip install opentelemetry-exporter-zipkin-proto-http) or opentelemetry-exporter-zipkin-json"
    )


def _span_exporter(name: str, environ: Mapping[str, str]) -> tuple[SpanExporter, bool]:
    """The exporter and whether it is batched."""
    if name == "zipkin":  # reads OTEL_EXPORTER_ZIPKIN_ENDPOINT and OTEL_EXPORTER_ZIPKIN_TIMEOUT itself
        zipkin_exporter: SpanExporter = importlib.import_module(_zipkin_module()).ZipkinExporter()
        return zipkin_exporter, True
    if name == "compact":
        from authhooks.exporters.console import CompactConsoleSpanExporter

        return CompactConsoleSpanExporter(), False
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(), False
    protocol, variable = _protocol(environ, "TRACES")
    if protocol == "grpc":
        try:
            module = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        except ImportError:
            raise _grpc_missing(variable) from None
        grpc_exporter: SpanExporter = module.OTLPSpanExporter()
        return grpc_exporter, True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(), True


def _metric_reader(name: str, environ: Mapping[str, str]) -> MetricReader:
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, PeriodicExportingMetricReader

    exporter: MetricExporter
    if name == "console":
        exporter = ConsoleMetricExporter()
    else:
        protocol, variable = _protocol(environ, "METRICS")
        if protocol == "grpc":
            try:
                module = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.metric_exporter")
            except ImportError:
                raise _grpc_missing(variable) from None
            exporter = module.OTLPMetricExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            exporter = OTLPMetricExporter()
    return PeriodicExportingMetricReader(exporter)


def _exemplar_filter_name(environ: Mapping[str, str]) -> str:
    """``OTEL_METRICS_EXEMPLAR_FILTER``, checked; ``always_off`` when unset.

    Raises:
        ConfigurationError: another value (the message names the variable).
    """
    raw = environ.get("OTEL_METRICS_EXEMPLAR_FILTER", "").strip().lower()
    if not raw:
        return "always_off"
    if raw not in _EXEMPLAR_FILTERS:
        raise ConfigurationError(f"OTEL_METRICS_EXEMPLAR_FILTER={raw!r}: expected one of {list(_EXEMPLAR_FILTERS)}")
    return raw


def _exemplar_filter(name: str) -> ExemplarFilter:
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, AlwaysOnExemplarFilter, TraceBasedExemplarFilter

    if name == "always_on":
        return AlwaysOnExemplarFilter()
    if name == "trace_based":
        return TraceBasedExemplarFilter()
    return AlwaysOffExemplarFilter()


def _tracer_provider_installed() -> bool:
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _meter_provider_installed() -> bool:
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return not isinstance(metrics.get_meter_provider(), _ProxyMeterProvider)


def setup(
    settings: Settings | None = None,
    *,
    exporter: str | SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> TelemetryHandle:
    """Install SDK tracer and meter providers from ``OTEL_*`` unless some are installed already.

    Args:
        settings: for ``service_name`` (used when ``OTEL_SERVICE_NAME`` gives none); default from the
            environment.
        exporter: the span exporter(s) to use instead of ``OTEL_TRACES_EXPORTER``: a name or comma list as the
            variable takes (``"compact"`` for the demo), or a ``SpanExporter`` instance (exported through a
            ``SimpleSpanProcessor``).
        environ: the environment to read (default ``os.environ``; the SDK's exporters read ``os.environ``).

    Returns:
        A handle owning what was installed (possibly nothing); call ``shutdown()`` when the app stops.

    Raises:
        ConfigurationError: an unknown exporter name or protocol, or ``grpc`` or ``zipkin`` without its package.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    install_redacting_filter()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TelemetryHandle(None, None)
    settings = settings if settings is not None else Settings.from_env(env)

    given: list[tuple[SpanExporter, bool]] = []
    trace_names: list[str] = []
    if isinstance(exporter, str) or exporter is None:
        source = {"OTEL_TRACES_EXPORTER": exporter} if exporter is not None else env
        trace_names = _names(source, "OTEL_TRACES_EXPORTER", _TRACE_EXPORTERS)
        if "otlp" in trace_names:
            _check_protocol(env, "TRACES")  # fail early, even when nothing gets installed
        if "zipkin" in trace_names:
            _zipkin_module()  # the same: a missing package is named before anything is installed
    else:
        given.append((exporter, False))
    metric_names = _names(env, "OTEL_METRICS_EXPORTER", _METRIC_EXPORTERS)
    if "otlp" in metric_names:
        _check_protocol(env, "METRICS")
    exemplars = _exemplar_filter_name(env)

    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create({})
    if str(resource.attributes.get(SERVICE_NAME, "unknown_service")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: settings.service_name}))

    tracer_provider: Any = None
    if not _tracer_provider_installed():
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        tracer_provider = TracerProvider(resource=resource)
        for span_exporter, batched in given + [_span_exporter(name, env) for name in trace_names]:
            processor = BatchSpanProcessor(span_exporter) if batched else SimpleSpanProcessor(span_exporter)
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)

    meter_provider: Any = None
    if metric_names and not _meter_provider_installed():
        from opentelemetry.sdk.metrics import MeterProvider

        readers = [_metric_reader(name, env) for name in metric_names]
        meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, exemplar_filter=_exemplar_filter(exemplars)
        )
        metrics.set_meter_provider(meter_provider)
    return TelemetryHandle(tracer_provider, meter_provider)
