"""The authhooks instruments (OpenTelemetry metrics API only) and their low-cardinality attribute sets.

Cost matters here (product.md §9): one synchronous SDK measurement costs several microseconds (attribute
cleaning, hashing, exemplar sampling), so

- the durations are synchronous histograms, **opt-in** (``authhooks.flow.duration`` with
  ``flow_durations=True``, ``AUTHHOOKS_FLOW_HISTOGRAM``; ``authhooks.hook.duration`` with ``hook_durations=True``,
  ``AUTHHOOKS_HOOK_METRICS``), recorded with attribute dictionaries built once per combination and reused;
- the counters (``authhooks.flow.outcomes``, ``authhooks.hook.decisions``, ``authhooks.background.dropped``,
  ``authhooks.hook.abandoned``) are **asynchronous** (observable) counters: each call bumps an in-process tally
  under a lock, and the SDK reads the cumulative tallies when it collects. Values and attributes are the same as
  with synchronous counters.

Attributes are bounded by the flows, the registered hooks, the decisions and the reasons: never a subject, token
or request value. Past :data:`CARDINALITY_LIMIT` distinct attribute sets per counter, further combinations are
counted under ``{"otel.metric.overflow": True}``, as the SDK's own cardinality limit does.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from authhooks.events import Decision
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.telemetry import names
from authhooks.telemetry.faults import hook_error_type

__all__ = ["CARDINALITY_LIMIT", "FlowMetrics", "library_version"]

CARDINALITY_LIMIT = 2000
"""Distinct attribute sets kept per instrument before the overflow set is used."""

_OVERFLOW_KEY = ("otel.metric.overflow",)
_OVERFLOW: dict[str, Any] = {"otel.metric.overflow": True}
_NOT_TIMED = frozenset({Decision.SKIPPED, Decision.QUEUED, Decision.DROPPED})

Attributes = dict[str, Any]


def _point_attributes(record: HookRecord) -> dict[str, Any]:
    return {names.ATTR_HOOK_NAME: record.hook, names.ATTR_HOOK_POINT: record.point}


def library_version() -> str:
    """The installed authhooks version (from package metadata, so no import of the package root is needed)."""
    try:
        return version("authhooks")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0.0.0"


class _Tally:
    """Cumulative counts per attribute set, read by an observable counter's callback.

    The tallies of one :class:`FlowMetrics` share its lock, so a flow's outcome and all its hook decisions are
    counted under one acquisition."""

    __slots__ = ("_counts", "_lock")

    def __init__(self, lock: threading.Lock) -> None:
        self._counts: dict[Hashable, list[Any]] = {}
        self._lock = lock

    def add(self, key: Hashable, attrs: dict[str, Any]) -> None:
        """Count one more under ``key`` (``attrs`` are its attributes, kept the first time)."""
        with self._lock:
            self.bump(key, attrs)

    def bump(self, key: Hashable, attrs: dict[str, Any]) -> None:
        """:meth:`add` for a caller that holds the lock."""
        counts = self._counts
        entry = counts.get(key)
        if entry is None:
            if len(counts) >= CARDINALITY_LIMIT:
                key, attrs = _OVERFLOW_KEY, _OVERFLOW
                entry = counts.get(key)
            if entry is None:
                entry = counts[key] = [attrs, 0]
        entry[1] += 1

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            entries = [(attrs, count) for attrs, count in self._counts.values()]
        return [Observation(count, attrs) for attrs, count in entries]


class FlowMetrics:
    """Records flow and hook metrics (see :mod:`authhooks.telemetry.names` for names, units and attributes).

    Args:
        meter_provider: the provider to use; default the global one (a proxy until an SDK is installed).
        hook_durations: record the ``authhooks.hook.duration`` histogram (one SDK measurement per hook run).
        flow_durations: record the ``authhooks.flow.duration`` histogram (one SDK measurement per flow run).

    The outcome and decision counters are always kept: they survive trace sampling.
    """

    __slots__ = (
        "_abandoned",
        "_decisions",
        "_dropped",
        "_flow_attrs",
        "_flow_duration",
        "_hook_attrs",
        "_hook_duration",
        "_instruments",
        "_lock",
        "_outcomes",
    )

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        *,
        hook_durations: bool = True,
        flow_durations: bool = True,
    ) -> None:
        meter = metrics.get_meter(names.INSTRUMENTATION_SCOPE, library_version(), meter_provider)
        buckets = list(names.DURATION_BUCKETS)
        self._lock = threading.Lock()
        self._outcomes = _Tally(self._lock)
        self._decisions = _Tally(self._lock)
        self._dropped = _Tally(self._lock)
        self._abandoned = _Tally(self._lock)
        self._flow_duration = (
            meter.create_histogram(
                names.METRIC_FLOW_DURATION,
                unit="s",
                description="Duration of authhooks flows.",
                explicit_bucket_boundaries_advisory=buckets,
            )
            if flow_durations
            else None
        )
        self._hook_duration = (
            meter.create_histogram(
                names.METRIC_HOOK_DURATION,
                unit="s",
                description="Duration of hook runs.",
                explicit_bucket_boundaries_advisory=buckets,
            )
            if hook_durations
            else None
        )
        # Kept referenced: the callbacks live as long as this object.
        self._instruments = (
            meter.create_observable_counter(
                names.METRIC_FLOW_OUTCOMES,
                [self._outcomes.observe],
                unit="{flow}",
                description="Ended authhooks flows, by outcome.",
            ),
            meter.create_observable_counter(
                names.METRIC_HOOK_DECISIONS,
                [self._decisions.observe],
                unit="{decision}",
                description="Hook runs, by decision.",
            ),
            meter.create_observable_counter(
                names.METRIC_BACKGROUND_DROPPED,
                [self._dropped.observe],
                unit="{run}",
                description="Background hook runs dropped because the queue was full.",
            ),
            meter.create_observable_counter(
                names.METRIC_HOOK_ABANDONED,
                [self._abandoned.observe],
                unit="{run}",
                description="Hook runs cut at their timeout while the hook went on running in its thread.",
            ),
        )
        self._flow_attrs: dict[tuple[str, str, str | None, str | None], dict[str, Any]] = {}
        self._hook_attrs: dict[tuple[str, str, Decision, str | None], dict[str, Any]] = {}

    def flow_ended(self, run: FlowRun, error_type: str | None) -> None:
        """Count the outcome of an ended flow run and the decisions of its own hook runs (its background runs
        are counted as they are reported) under one acquisition of the lock; then record the duration
        histograms that are on."""
        key = (str(run.flow), run.outcome.value, run.reason, error_type)
        attrs = self._flow_attrs.get(key)
        if attrs is None:
            attrs = {names.ATTR_FLOW: key[0], names.ATTR_OUTCOME: key[1]}
            if run.reason is not None:
                attrs[names.ATTR_REASON] = run.reason
            if error_type is not None:
                attrs[names.ATTR_ERROR_TYPE] = error_type
            if len(self._flow_attrs) < CARDINALITY_LIMIT:
                self._flow_attrs[key] = attrs
        own = [(record, self._hook_key(record)) for record in run.hooks if not record.background]
        with self._lock:
            self._outcomes.bump(key, attrs)
            for record, (hook_key, hook_attrs) in own:
                self._decisions.bump(hook_key, hook_attrs)
                if record.decision is Decision.DROPPED:
                    self._dropped.bump(hook_key[:2], _point_attributes(record))
                if record.abandoned:
                    self._abandoned.bump(hook_key[:2], _point_attributes(record))
        if self._flow_duration is not None:
            self._flow_duration.record(run.duration, attrs)
        if self._hook_duration is not None:
            for record, (_, hook_attrs) in own:
                if record.decision not in _NOT_TIMED:
                    self._hook_duration.record(record.duration, hook_attrs)

    def hook_ran(self, record: HookRecord) -> None:
        """Record one background hook run: its decision, its duration when it ran, a drop or an abandoned run."""
        key, attrs = self._hook_key(record)
        decision = record.decision
        with self._lock:
            self._decisions.bump(key, attrs)
            if decision is Decision.DROPPED:
                self._dropped.bump(key[:2], _point_attributes(record))
            if record.abandoned:
                self._abandoned.bump(key[:2], _point_attributes(record))
        if self._hook_duration is not None and decision not in _NOT_TIMED:
            self._hook_duration.record(record.duration, attrs)

    def _hook_key(self, record: HookRecord) -> tuple[tuple[str, str, Decision, str | None], dict[str, Any]]:
        error_type = hook_error_type(record)
        key = (record.hook, record.point, record.decision, error_type)
        attrs = self._hook_attrs.get(key)
        if attrs is None:
            attrs = {
                names.ATTR_HOOK_NAME: record.hook,
                names.ATTR_HOOK_POINT: record.point,
                names.ATTR_HOOK_DECISION: record.decision.value,
            }
            if error_type is not None:
                attrs[names.ATTR_ERROR_TYPE] = error_type
            if len(self._hook_attrs) < CARDINALITY_LIMIT:
                self._hook_attrs[key] = attrs
        return key, attrs
