"""Flow and hook metrics: names, units, values and (low-cardinality) attributes."""

from __future__ import annotations

import pytest

from authhooks.config import Settings
from authhooks.errors import StoreUnavailableError
from authhooks.events import Decision, Outcome
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.telemetry.metrics import CARDINALITY_LIMIT

from ._flows import SUBJECT, record, run_flow


def test_flow_duration_is_opt_in_and_the_outcome_counter_always_on() -> None:
    with InMemoryTelemetry() as telemetry:
        run_flow(telemetry.observer(), "login", [record("rate_limit")])
        assert telemetry.metric_points("authhooks.flow.duration") == []
        assert telemetry.metric_points("authhooks.hook.duration") == []
        assert telemetry.metric_value("authhooks.flow.outcomes", {"authhooks.flow": "login"}) == 1
        assert telemetry.metric_value("authhooks.hook.decisions") == 1


def test_flow_duration_and_outcomes() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(Settings(flow_histogram=True))
        run_flow(observer, "login", duration=0.002)
        run_flow(observer, "login", duration=0.004)
        run_flow(observer, "login", outcome=Outcome.FAILURE, reason="invalid_credentials", duration=0.001)
        run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="unavailable",
                 fault=StoreUnavailableError())  # fmt: skip

        (ok,) = telemetry.metric_points("authhooks.flow.duration", {"authhooks.outcome": "success"})
        assert ok.unit == "s"
        assert ok.count == 2 and ok.value == pytest.approx(0.006)
        assert ok.attributes == {"authhooks.flow": "login", "authhooks.outcome": "success"}
        assert ok.explicit_bounds[0] == pytest.approx(0.0001)
        assert telemetry.metric_value("authhooks.flow.outcomes", {"authhooks.flow": "login"}) == 3
        (failed,) = telemetry.metric_points("authhooks.flow.outcomes", {"authhooks.reason": "invalid_credentials"})
        assert failed.unit == "{flow}" and failed.value == 1
        assert "error.type" not in failed.attributes
        (fault,) = telemetry.metric_points("authhooks.flow.outcomes", {"authhooks.flow": "validate_token"})
        assert fault.attributes["error.type"] == "store_unavailable"


def test_hook_decisions_durations_and_drops() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(Settings(hook_metrics=True))
        hooks = [
            record("rate_limit", duration=0.001),
            record("rate_limit", Decision.DENY, duration=0.003, reason="rate_limited"),
            record("add_claim", Decision.SKIPPED, duration=0.0),
            record("notify", Decision.DROPPED, point="login.post", duration=0.0),
            record("broken", Decision.ERROR, error_type="KeyError"),
        ]
        run_flow(observer, "login", hooks)

        decisions = telemetry.metric_points("authhooks.hook.decisions")
        counted = {(p.attributes["authhooks.hook.name"], p.attributes["authhooks.hook.decision"]): p.value
                   for p in decisions}  # fmt: skip
        assert counted == {
            ("rate_limit", "continue"): 1,
            ("rate_limit", "deny"): 1,
            ("add_claim", "skipped"): 1,
            ("notify", "dropped"): 1,
            ("broken", "error"): 1,
        }
        assert decisions[0].unit == "{decision}"
        durations = telemetry.metric_points("authhooks.hook.duration")
        assert {p.attributes["authhooks.hook.name"] for p in durations} == {"rate_limit", "broken"}  # ran ones only
        (denied,) = telemetry.metric_points("authhooks.hook.duration", {"authhooks.hook.decision": "deny"})
        assert denied.value == pytest.approx(0.003) and denied.unit == "s"
        (broken,) = telemetry.metric_points("authhooks.hook.duration", {"authhooks.hook.name": "broken"})
        assert broken.attributes["error.type"] == "hook_error"
        (dropped,) = telemetry.metric_points("authhooks.background.dropped")
        assert dropped.value == 1
        assert dropped.attributes == {"authhooks.hook.name": "notify", "authhooks.hook.point": "login.post"}


def test_hook_durations_can_be_turned_off_and_off_mode_keeps_metrics() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(Settings(hook_telemetry="off"), hook_durations=False)
        run_flow(observer, "login", [record("rate_limit")])
        assert telemetry.metric_points("authhooks.hook.duration") == []
        assert telemetry.metric_value("authhooks.hook.decisions") == 1


def test_metrics_never_carry_the_subject() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer(Settings(record_subject=True))
        run_flow(observer, "login", [record("rate_limit")], subject=SUBJECT)
        for point in telemetry.metrics():
            assert SUBJECT not in repr(point.attributes)
            assert not any("subject" in key for key in point.attributes)


def test_unbounded_reasons_fold_into_the_overflow_set() -> None:
    with InMemoryTelemetry() as telemetry:
        observer = telemetry.observer()
        for i in range(CARDINALITY_LIMIT + 5):
            run_flow(observer, "login", outcome=Outcome.FAILURE, reason=f"reason_{i}")
        outcomes = telemetry.metric_points("authhooks.flow.outcomes")
        assert len(outcomes) == CARDINALITY_LIMIT + 1
        (overflow,) = [p for p in outcomes if p.attributes.get("otel.metric.overflow")]
        assert overflow.value == 5
