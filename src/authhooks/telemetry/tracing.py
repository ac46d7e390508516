"""The telemetry observer: one INTERNAL span per flow run, hook runs as events or child spans, metrics.

It implements :class:`~authhooks.hooks.observer.Observer` with the OpenTelemetry **API** only; with no SDK
installed every call lands on a no-op tracer and meter. Names are those of :mod:`authhooks.telemetry.names`.

- ``flow_started``: starts ``authhooks.<flow>`` (kind ``INTERNAL``) as a child of the current span and makes it
  current (so nested flows and anything the flow calls nest under it); keeps the span's
  :class:`~opentelemetry.trace.SpanContext` in ``run.state[FLOW_SPAN_CONTEXT]`` for background runs and the
  audit log.
- ``hook_ran``: per ``Settings.hook_telemetry``:

  - ``event`` (default): a span event ``authhooks.hook`` on the flow span with the hook's name, stage,
    decision and duration in milliseconds (the flow span names the flow, so the point is left out); no extra
    span, about a third of one span's cost per run (``benchmarks/telemetry.py``).
  - ``span``: a child span ``authhooks.hook`` per run, with explicit start and end times derived from the
    run's duration (the hook has already run when it is reported); status ``Error`` when it raised or timed out.
  - ``off``: nothing in traces.

  Shadow-mode runs carry ``authhooks.hook.enforced=false``; a shadow denial has decision ``shadow_deny``.
  Background runs (``record.background``) are reported after the flow may have ended, so in ``event`` and
  ``span`` mode they become their own ``authhooks.hook`` span in a new trace, **linked** to the flow span.
  Metrics are recorded in every mode: a flow's own hook runs all at once when it ends (one lock for the
  tallies), background runs as they are reported.
- ``flow_ended``: records the flow's metrics, sets outcome, reason, hook counts, the subject (only as allowed
  by ``record_subject`` / ``record_subject_hashed``), the declared details the flow noted (an ``authorize``
  span's required scopes, :data:`~authhooks.telemetry.names.DETAIL_ATTRIBUTES`), status ``Error`` +
  ``error.type`` for faults only (see :mod:`authhooks.telemetry.faults`), ends the span and restores the
  previous context.

No method raises for well-formed records; the engine still guards every observer call.
"""

from __future__ import annotations

import time
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from authhooks._redact import SubjectRecorder
from authhooks.config import Settings
from authhooks.events import Decision
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.telemetry import names
from authhooks.telemetry.faults import fault_type, hook_error_type
from authhooks.telemetry.metrics import FlowMetrics, library_version

__all__ = ["FLOW_SPAN_CONTEXT", "TelemetryObserver", "flow_span_context"]

FLOW_SPAN_CONTEXT: Final = "authhooks.telemetry.span_context"
"""Key of ``run.state`` holding the flow span's :class:`~opentelemetry.trace.SpanContext`."""

_CACHE_LIMIT = 4096
_ROOT = otel_context.Context()  # an empty context: background spans start a new trace
_INTERNAL = SpanKind.INTERNAL
_ERROR = Status(StatusCode.ERROR)
_COUNTED = frozenset({Decision.SKIPPED, Decision.QUEUED, Decision.DROPPED})

Attributes = dict[str, Any]


def flow_span_context(run: FlowRun) -> trace.SpanContext | None:
    """The span context of ``run``'s flow span, when a :class:`TelemetryObserver` started one."""
    found = run.state.get(FLOW_SPAN_CONTEXT)
    return found if isinstance(found, trace.SpanContext) else None


class TelemetryObserver:
    """Records flows and hook runs with OpenTelemetry (see the module docstring for what and how).

    Args:
        settings: ``telemetry`` (False makes every method a no-op), ``hook_telemetry``, ``record_subject``,
            ``record_subject_hashed``; default ``Settings.from_env()``.
        tracer_provider: default the global provider.
        meter_provider: default the global provider.
        subject_key: HMAC key for ``record_subject_hashed`` (default: a random per-process key).
        hook_durations: record the ``authhooks.hook.duration`` histogram (one SDK measurement per hook run,
            several microseconds each; turn it off on hot paths with many hooks).

    The tracer, instruments and attribute dictionaries are built once; register one instance with the engine
    for the life of the application.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        subject_key: bytes | None = None,
        hook_durations: bool = True,
    ) -> None:
        settings = settings if settings is not None else Settings.from_env()
        self.enabled: bool = settings.telemetry
        self.hook_mode: str = settings.hook_telemetry
        self._follows_globals = tracer_provider is None and meter_provider is None
        self._tracer = trace.get_tracer(names.INSTRUMENTATION_SCOPE, library_version(), tracer_provider)
        self._metrics = FlowMetrics(meter_provider, hook_durations=hook_durations)
        self._subject = SubjectRecorder(settings.record_subject, settings.record_subject_hashed, key=subject_key)
        self._subject_attr = names.ATTR_SUBJECT_HASH if self._subject.mode == "hashed" else names.ATTR_SUBJECT
        self._flows: dict[str, tuple[str, Attributes]] = {}
        self._hook_attrs: dict[tuple[str, str, str, Decision, bool, bool, bool, str | None], Attributes] = {}

    def __repr__(self) -> str:
        return f"TelemetryObserver(enabled={self.enabled}, hook_telemetry={self.hook_mode!r})"

    @property
    def active(self) -> bool:
        """Whether recording does anything: enabled, and given a provider or with a global SDK provider
        installed (tracing or metrics). While the global providers are the API's proxies (no SDK yet), the
        engine leaves this observer out, so telemetry costs nothing until an SDK is set up; it is picked up
        by the next flow once one is."""
        if not self.enabled:
            return False
        if not self._follows_globals:
            return True
        return not (
            type(trace.get_tracer_provider()) is trace.ProxyTracerProvider
            and type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
        )

    # -- Observer ---------------------------------------------------------------------------------------------

    def flow_started(self, run: FlowRun) -> None:
        """Start the flow span as a child of the current span and make it current."""
        if not self.enabled:
            return
        flow = str(run.flow)
        known = self._flows.get(flow)
        if known is None:
            known = self._flows[flow] = (names.flow_span_name(flow), {names.ATTR_FLOW: flow})
        parent = None
        if run.parent is not None and not trace.get_current_span().get_span_context().is_valid:
            # The enclosing flow runs elsewhere (another thread without the context): nest explicitly.
            parent_state = run.parent.state.get(self)
            if parent_state is not None:
                parent = parent_state[2]
        span = self._tracer.start_span(known[0], parent, _INTERNAL, known[1])
        ctx = trace.set_span_in_context(span, parent)
        token = otel_context.attach(ctx)
        run.state[self] = (span, token, ctx)
        run.state[FLOW_SPAN_CONTEXT] = span.get_span_context()

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Record the run as an event or a child span (background runs: a linked span and their metrics).

        The metrics of a flow's own hook runs are recorded once, when the flow ends (:meth:`flow_ended`)."""
        if not self.enabled:
            return
        if record.background:
            self._metrics.hook_ran(record)
            if self.hook_mode != "off":
                self._background(run, record)
            return
        state = run.state.get(self)
        if state is None or self.hook_mode == "off":
            return
        span = state[0]
        if not span.is_recording():  # unsampled: no attribute work at all
            return
        if self.hook_mode == "event":
            attrs = self._attrs(run, record, True)
            span.add_event(names.EVENT_HOOK, {**attrs, names.ATTR_HOOK_DURATION_MS: record.duration * 1000.0})
            return
        attrs = self._attrs(run, record, False)
        end = time.time_ns()
        child = self._tracer.start_span(
            names.SPAN_HOOK, state[2], _INTERNAL, attrs, start_time=end - int(record.duration * 1e9)
        )
        if names.ATTR_ERROR_TYPE in attrs:
            child.set_status(_ERROR)
        child.end(end_time=end)

    def flow_ended(self, run: FlowRun) -> None:
        """Set the outcome attributes and status, end the span, restore the context; record metrics."""
        if not self.enabled:
            return
        error_type = fault_type(run)
        self._metrics.flow_ended(run, error_type)
        self._metrics.hooks_ran(run)
        state = run.state.pop(self, None)
        if state is None:
            return
        span, token, _ = state
        try:
            if span.is_recording():
                span.set_attributes(self._outcome_attributes(run, error_type))
                if error_type is not None:
                    span.set_status(_ERROR)
            span.end()
        finally:
            otel_context.detach(token)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _outcome_attributes(self, run: FlowRun, error_type: str | None) -> Attributes:
        attrs: Attributes = {names.ATTR_OUTCOME: run.outcome.value}
        if run.reason is not None:
            attrs[names.ATTR_REASON] = run.reason
        count = denied = failed = 0
        denied_by: str | None = None
        for record in run.hooks:
            if record.background:
                continue
            count += 1
            decision = record.decision
            if decision is Decision.DENY:
                denied += 1
                denied_by = record.hook
            elif decision is Decision.ERROR or decision is Decision.TIMEOUT:
                failed += 1
                if record.reason is not None and record.enforced:
                    denied_by = record.hook
        attrs[names.ATTR_HOOKS_COUNT] = count
        if denied:
            attrs[names.ATTR_HOOKS_DENIED] = denied
        if failed:
            attrs[names.ATTR_HOOKS_FAILED] = failed
        if denied_by is not None:
            attrs[names.ATTR_DENIED_BY] = denied_by
        if error_type is not None:
            attrs[names.ATTR_ERROR_TYPE] = error_type
        subject = self._subject.value(run.subject)
        if subject is not None:
            attrs[self._subject_attr] = subject
        if run.details:
            flow = str(run.flow)
            for key, value in run.details.items():
                attr = names.DETAIL_ATTRIBUTES.get((flow, key))
                if attr is not None:
                    attrs[attr] = list(value) if isinstance(value, (tuple, list, frozenset, set)) else value
        return attrs

    def _attrs(self, run: FlowRun, record: HookRecord, event: bool, *, background: bool = False) -> Attributes:
        # Events leave out the point (the flow span names the flow; the stage completes it): every attribute
        # of an event costs about a microsecond in the SDK.
        error_type = hook_error_type(record)
        key = (run.flow, record.hook, record.point, record.decision, record.enforced, event, background, error_type)
        attrs = self._hook_attrs.get(key)
        if attrs is None:
            attrs = {names.ATTR_HOOK_NAME: record.hook}
            if not event:
                attrs[names.ATTR_HOOK_POINT] = record.point
            attrs[names.ATTR_HOOK_STAGE] = record.stage
            attrs[names.ATTR_HOOK_DECISION] = record.decision.value
            if not record.enforced:
                attrs[names.ATTR_HOOK_ENFORCED] = False
            if background:
                attrs[names.ATTR_FLOW] = key[0]
                attrs[names.ATTR_HOOK_BACKGROUND] = True
            if error_type is not None:
                attrs[names.ATTR_ERROR_TYPE] = error_type
            if len(self._hook_attrs) >= _CACHE_LIMIT:
                self._hook_attrs.clear()
            self._hook_attrs[key] = attrs
        return attrs

    def _background(self, run: FlowRun, record: HookRecord) -> None:
        if record.decision in _COUNTED:
            return
        flow_ctx = flow_span_context(run)
        links = (Link(flow_ctx),) if flow_ctx is not None and flow_ctx.is_valid else ()
        attrs = self._attrs(run, record, False, background=True)
        end = time.time_ns()
        span = self._tracer.start_span(
            names.SPAN_HOOK, _ROOT, _INTERNAL, attrs, links, start_time=end - int(record.duration * 1e9)
        )
        if names.ATTR_ERROR_TYPE in attrs:
            span.set_status(_ERROR)
        span.end(end_time=end)
