"""The telemetry observer: a flow records onto the span already there, or its own INTERNAL span; hook runs as
events, array attributes or child spans; counters always, histograms on request.

It implements :class:`~authhooks.hooks.observer.Observer` with the OpenTelemetry **API** only; with no SDK
installed every call lands on a no-op tracer and meter. Names are those of :mod:`authhooks.telemetry.names`.

What a span costs decides the design (product.md §8; one bare SDK span ≈ 14 µs, one span event ≈ 7 µs, one
attribute ≈ 1 µs, one histogram record ≈ 6 to 8 µs):

- ``flow_started``, per ``Settings.flow_spans``:

  - ``auto`` (default): when a **recording** span is current (the HTTP server span of the ASGI/WSGI
    instrumentation, or an enclosing flow's span), or the enclosing flow run (``run.parent``, on another thread
    without the context) has one, the flow becomes a *guest* of that span: no span is started and no context
    attached; everything below is written onto it under flow-prefixed keys
    (:func:`~authhooks.telemetry.names.host_attribute`, ``authhooks.validate_token.outcome``). Otherwise it
    starts its own INTERNAL span ``authhooks.<flow>`` as a child of the current span and makes it current (so
    what the flow and its hooks call nests under it);
  - ``always``: its own span every time (nested flows nest under the enclosing flow's span).

  ``run.state[FLOW_SPAN_CONTEXT]`` keeps the :class:`~opentelemetry.trace.SpanContext` of the span the flow
  records on (background runs link to it; the audit log cites it).
- ``hook_ran``, per ``Settings.hook_telemetry``:

  - ``event`` (default): one span event ``authhooks.hook`` per run with the hook's name, decision, duration in
    milliseconds and stage (on the flow's own span) or point (on a host span, which may carry several flows);
  - ``attributes``: nothing per run; when the flow ends, the names, decisions and durations of its hook runs
    are written as three array attributes (``authhooks.hook.names``, ``.decisions``, ``.durations_ms``) in the
    same ``set_attributes`` call as its outcome;
  - ``span``: a child span ``authhooks.hook`` per run, with explicit start and end times derived from the
    run's duration (the hook has already run when it is reported); status ``Error`` when it raised or timed out;
  - ``off``: nothing in traces.

  Shadow-mode runs carry ``authhooks.hook.enforced=false`` (events and spans); a shadow denial has decision
  ``shadow_deny``. Background runs (``record.background``) are reported after the flow may have ended, so in
  every mode but ``off`` they become their own ``authhooks.hook`` span in a new trace, **linked** to the span
  the flow recorded on.
- ``flow_ended``: counts the outcome and the hook decisions (always: counters survive trace sampling; the
  duration histograms only when asked, :class:`~authhooks.telemetry.metrics.FlowMetrics`), writes outcome,
  reason, hook counts, the subject (only as allowed by ``record_subject`` / ``record_subject_hashed``), the
  declared details the flow noted (:data:`~authhooks.telemetry.names.DETAIL_ATTRIBUTES`), on a host span the
  flow's ``duration_ms``, and for faults only status ``Error`` + ``error.type`` (see
  :mod:`authhooks.telemetry.faults`), all in one ``set_attributes`` call; then ends its own span and restores
  the context (a host span is left to its owner).

A span that is not recording (unsampled) gets no attribute work at all. No method raises for well-formed
records; the engine still guards every observer call.
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


class _Keys:
    """The attribute keys one flow writes, on its own span (as declared) or on a host span (flow-prefixed)."""

    __slots__ = (
        "count",
        "decisions",
        "denied",
        "denied_by",
        "duration_ms",
        "durations_ms",
        "failed",
        "hooks",
        "outcome",
        "reason",
        "subject",
        "subject_hash",
    )

    def __init__(self, flow: str, host: bool) -> None:
        key = (lambda k: names.host_attribute(flow, k)) if host else (lambda k: k)
        self.outcome = key(names.ATTR_OUTCOME)
        self.reason = key(names.ATTR_REASON)
        self.duration_ms = key(names.ATTR_DURATION_MS)
        self.count = key(names.ATTR_HOOKS_COUNT)
        self.denied = key(names.ATTR_HOOKS_DENIED)
        self.failed = key(names.ATTR_HOOKS_FAILED)
        self.denied_by = key(names.ATTR_DENIED_BY)
        self.subject = key(names.ATTR_SUBJECT)
        self.subject_hash = key(names.ATTR_SUBJECT_HASH)
        self.hooks = key(names.ATTR_HOOK_NAMES)
        self.decisions = key(names.ATTR_HOOK_DECISIONS)
        self.durations_ms = key(names.ATTR_HOOK_DURATIONS_MS)


class _Flow:
    """What is built once per flow name: the span name, its start attributes, the keys own and hosted."""

    __slots__ = ("hosted", "own", "span_name", "start_attributes")

    def __init__(self, flow: str) -> None:
        self.span_name = names.flow_span_name(flow)
        self.start_attributes: Attributes = {names.ATTR_FLOW: flow}
        self.own = _Keys(flow, False)
        self.hosted = _Keys(flow, True)


class TelemetryObserver:
    """Records flows and hook runs with OpenTelemetry (see the module docstring for what and how).

    Args:
        settings: ``telemetry`` (False makes every method a no-op), ``flow_spans``, ``hook_telemetry``,
            ``flow_histogram``, ``hook_metrics``, ``record_subject``, ``record_subject_hashed``; default
            ``Settings.from_env()``.
        tracer_provider: default the global provider.
        meter_provider: default the global provider.
        subject_key: HMAC key for ``record_subject_hashed`` (default: a random per-process key).
        hook_durations: record the ``authhooks.hook.duration`` histogram; default ``settings.hook_metrics``.
        flow_durations: record the ``authhooks.flow.duration`` histogram; default ``settings.flow_histogram``.

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
        hook_durations: bool | None = None,
        flow_durations: bool | None = None,
    ) -> None:
        settings = settings if settings is not None else Settings.from_env()
        self.enabled: bool = settings.telemetry
        self.hook_mode: str = settings.hook_telemetry
        self.flow_spans: str = settings.flow_spans
        self._guest = settings.flow_spans == "auto"
        self._events = self.hook_mode == "event"
        self._arrays = self.hook_mode == "attributes"
        self._spans = self.hook_mode == "span"
        self._follows_globals = tracer_provider is None and meter_provider is None
        self._sdk_seen = False
        self._tracer = trace.get_tracer(names.INSTRUMENTATION_SCOPE, library_version(), tracer_provider)
        self._metrics = FlowMetrics(
            meter_provider,
            hook_durations=settings.hook_metrics if hook_durations is None else hook_durations,
            flow_durations=settings.flow_histogram if flow_durations is None else flow_durations,
        )
        self._subject = SubjectRecorder(settings.record_subject, settings.record_subject_hashed, key=subject_key)
        self._hashed = self._subject.mode == "hashed"
        self._flows: dict[str, _Flow] = {}
        self._hook_attrs: dict[tuple[str, str, str, Decision, bool, str, bool, str | None], Attributes] = {}

    def __repr__(self) -> str:
        return (
            f"TelemetryObserver(enabled={self.enabled}, flow_spans={self.flow_spans!r}, "
            f"hook_telemetry={self.hook_mode!r})"
        )

    @property
    def active(self) -> bool:
        """Whether recording does anything: enabled, and given a provider or with a global SDK provider
        installed (tracing or metrics). While the global providers are the API's proxies (no SDK yet), the
        engine leaves this observer out, so telemetry costs nothing until an SDK is set up; it is picked up
        by the next flow once one is."""
        if not self.enabled:
            return False
        if not self._follows_globals or self._sdk_seen:
            return True
        # A global provider is set once for the life of the process, so once one is seen the answer stays.
        self._sdk_seen = not (
            type(trace.get_tracer_provider()) is trace.ProxyTracerProvider
            and type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
        )
        return self._sdk_seen

    # -- Observer ---------------------------------------------------------------------------------------------

    def flow_started(self, run: FlowRun) -> None:
        """Become a guest of the recording span already there, or start the flow's own span and make it current
        (see the module docstring)."""
        if not self.enabled:
            return
        current = trace.get_current_span()
        parent_state = None
        if run.parent is not None and not current.get_span_context().is_valid:
            # The enclosing flow runs elsewhere (another thread without the context): nest explicitly.
            parent_state = run.parent.state.get(self)
        if self._guest:
            host = current if parent_state is None else parent_state[0]
            if host.is_recording():
                run.state[self] = (host, None, None)
                run.state[FLOW_SPAN_CONTEXT] = host.get_span_context()
                return
        flow = str(run.flow)
        known = self._flows.get(flow)
        if known is None:
            known = self._flows[flow] = _Flow(flow)
        parent = None if parent_state is None else parent_state[2]
        span = self._tracer.start_span(known.span_name, parent, _INTERNAL, known.start_attributes)
        ctx = trace.set_span_in_context(span, parent)
        run.state[self] = (span, otel_context.attach(ctx), ctx)
        run.state[FLOW_SPAN_CONTEXT] = span.get_span_context()

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Record the run as an event or a child span (``attributes`` mode: at the end of the flow; background
        runs: a linked span and their metrics).

        The metrics of a flow's own hook runs are recorded once, when the flow ends (:meth:`flow_ended`)."""
        if not self.enabled:
            return
        if record.background:
            self._metrics.hook_ran(record)
            if self.hook_mode != "off":
                self._background(run, record)
            return
        if not (self._events or self._spans):
            return
        state = run.state.get(self)
        if state is None:
            return
        span = state[0]
        if not span.is_recording():  # unsampled: no attribute work at all
            return
        guest = state[1] is None
        if self._events:
            attrs = self._attrs(run, record, "point" if guest else "stage")
            span.add_event(names.EVENT_HOOK, {**attrs, names.ATTR_HOOK_DURATION_MS: record.duration * 1000.0})
            return
        attrs = self._attrs(run, record, "span")
        end = time.time_ns()
        parent = trace.set_span_in_context(span) if guest else state[2]
        child = self._tracer.start_span(
            names.SPAN_HOOK, parent, _INTERNAL, attrs, start_time=end - int(record.duration * 1e9)
        )
        if names.ATTR_ERROR_TYPE in attrs:
            child.set_status(_ERROR)
        child.end(end_time=end)

    def flow_ended(self, run: FlowRun) -> None:
        """Count the run; write its attributes and status in one call; end its own span, restore the context."""
        if not self.enabled:
            return
        error_type = fault_type(run)
        self._metrics.flow_ended(run, error_type)
        state = run.state.pop(self, None)
        if state is None:
            return
        span, token, _ = state
        try:
            if span.is_recording():
                span.set_attributes(self._outcome_attributes(run, error_type, token is None))
                if error_type is not None:
                    span.set_status(_ERROR)
            if token is not None:
                span.end()
        finally:
            if token is not None:
                otel_context.detach(token)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _outcome_attributes(self, run: FlowRun, error_type: str | None, guest: bool) -> Attributes:
        flow = str(run.flow)
        known = self._flows.get(flow)
        if known is None:
            known = self._flows[flow] = _Flow(flow)
        keys = known.hosted if guest else known.own
        attrs: Attributes = {keys.outcome: run.outcome.value}
        if run.reason is not None:
            attrs[keys.reason] = run.reason
        if guest:
            attrs[keys.duration_ms] = run.duration * 1000.0
        count = denied = failed = 0
        denied_by: str | None = None
        arrays = self._arrays
        hook_names: list[str] = []
        decisions: list[str] = []
        durations: list[float] = []
        for record in run.hooks:
            if record.background:
                continue
            count += 1
            decision = record.decision
            if arrays:
                hook_names.append(record.hook)
                decisions.append(decision.value)
                durations.append(record.duration * 1000.0)
            if decision is Decision.DENY:
                denied += 1
                denied_by = record.hook
            elif decision is Decision.ERROR or decision is Decision.TIMEOUT:
                failed += 1
                if record.reason is not None and record.enforced:
                    denied_by = record.hook
        if count or not guest:
            attrs[keys.count] = count
        if hook_names:
            attrs[keys.hooks] = hook_names
            attrs[keys.decisions] = decisions
            attrs[keys.durations_ms] = durations
        if denied:
            attrs[keys.denied] = denied
        if failed:
            attrs[keys.failed] = failed
        if denied_by is not None:
            attrs[keys.denied_by] = denied_by
        if error_type is not None:
            attrs[names.ATTR_ERROR_TYPE] = error_type
        if run.subject is not None:
            subject = self._subject.value(run.subject)
            if subject is not None:
                attrs[keys.subject_hash if self._hashed else keys.subject] = subject
        if run.details:
            for key, value in run.details.items():
                attr = names.DETAIL_ATTRIBUTES.get((flow, key))
                if attr is not None:
                    attrs[attr] = list(value) if isinstance(value, (tuple, list, frozenset, set)) else value
        return attrs

    def _attrs(self, run: FlowRun, record: HookRecord, shape: str, *, background: bool = False) -> Attributes:
        # Events carry the stage on the flow's own span (which names the flow) and the point on a host span
        # (which may carry several flows); never both: every attribute of an event costs about a microsecond.
        error_type = hook_error_type(record)
        key = (run.flow, record.hook, record.point, record.decision, record.enforced, shape, background, error_type)
        attrs = self._hook_attrs.get(key)
        if attrs is None:
            attrs = {names.ATTR_HOOK_NAME: record.hook}
            if shape != "stage":
                attrs[names.ATTR_HOOK_POINT] = record.point
            if shape != "point":
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
        attrs = self._attrs(run, record, "span", background=True)
        end = time.time_ns()
        span = self._tracer.start_span(
            names.SPAN_HOOK, _ROOT, _INTERNAL, attrs, links, start_time=end - int(record.duration * 1e9)
        )
        if names.ATTR_ERROR_TYPE in attrs:
            span.set_status(_ERROR)
        span.end(end_time=end)
