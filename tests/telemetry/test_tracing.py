"""The telemetry observer's spans, events, status and links, on a real SDK with in-memory exporters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from authhooks.config import Settings
from authhooks.errors import (
    ConfigurationError,
    ExpiredToken,
    HookError,
    HookFailed,
    KeySetUnavailableError,
    StoreUnavailableError,
)
from authhooks.events import Decision, Outcome
from authhooks.exporters.memory import InMemoryTelemetry
from authhooks.hooks.observer import FlowRun
from authhooks.telemetry import FLOW_SPAN_CONTEXT, TelemetryObserver, error_type_of, names

from ._flows import SUBJECT, record, report_background, run_flow


@pytest.fixture
def telemetry() -> Iterator[InMemoryTelemetry]:
    with InMemoryTelemetry() as t:
        yield t


def test_one_internal_span_per_flow_named_after_the_flow(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    run_flow(observer, "login", [record("rate_limit"), record("add_claim", Decision.MODIFY)])
    run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="token_expired")

    assert [s.name for s in telemetry.spans()] == ["authhooks.login", "authhooks.validate_token"]
    login = telemetry.flow_spans("login")[0]
    assert login.kind is SpanKind.INTERNAL
    assert login.instrumentation_scope is not None and login.instrumentation_scope.name == "authhooks"
    assert login.attributes == {
        "authhooks.flow": "login",
        "authhooks.outcome": "success",
        "authhooks.hooks.count": 2,
    }
    validate = telemetry.flow_spans("validate_token")[0]
    assert validate.attributes is not None
    assert validate.attributes["authhooks.outcome"] == "failure"
    assert validate.attributes["authhooks.reason"] == "token_expired"


def test_under_a_recording_server_span_a_flow_records_onto_it_and_starts_no_span(
    telemetry: InMemoryTelemetry,
) -> None:
    observer = telemetry.observer()
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET /private", kind=SpanKind.SERVER) as server:
        run = run_flow(observer, "validate_token", [record("check_ip", point="validate_token.pre", duration=0.002)])
        run_flow(observer, "authorize", [record("deny_all", Decision.DENY, point="authorize.pre", reason="nope")],
                 outcome=Outcome.SHORT_CIRCUIT, reason="nope", duration=0.0005)  # fmt: skip
        assert trace.get_current_span() is server
    assert run.state[FLOW_SPAN_CONTEXT] == server.get_span_context()
    (span,) = telemetry.spans()  # the server span only
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    attrs = dict(span.attributes)
    assert attrs["authhooks.validate_token.outcome"] == "success"
    assert attrs["authhooks.validate_token.duration_ms"] == pytest.approx(3.2)
    assert attrs["authhooks.validate_token.hooks.count"] == 1
    assert attrs["authhooks.authorize.outcome"] == "short_circuit"
    assert attrs["authhooks.authorize.reason"] == "nope"
    assert attrs["authhooks.authorize.denied_by"] == "deny_all"
    assert attrs["authhooks.authorize.hooks.denied"] == 1
    assert not any(k in attrs for k in ("authhooks.outcome", "authhooks.flow", "error.type"))
    assert span.status.status_code is StatusCode.UNSET  # a denial is no fault
    events = [dict(e.attributes or {}) for e in span.events]
    assert [e.name for e in span.events] == ["authhooks.hook", "authhooks.hook"]
    # On a host span an event names the point (the span may carry several flows), not the stage.
    assert events[0] == {
        "authhooks.hook.name": "check_ip",
        "authhooks.hook.point": "validate_token.pre",
        "authhooks.hook.decision": "continue",
        "authhooks.hook.duration_ms": pytest.approx(2.0),
    }
    assert events[1]["authhooks.hook.decision"] == "deny"


def test_a_flow_without_hooks_on_a_host_span_writes_outcome_and_duration_only(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, "validate_token")
    (span,) = telemetry.spans()
    assert dict(span.attributes or {}) == {
        "authhooks.validate_token.outcome": "success",
        "authhooks.validate_token.duration_ms": pytest.approx(3.2),
    }


def test_a_fault_on_a_host_span_sets_error_and_error_type(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    with telemetry.tracer_provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="key_set_unavailable",
                 fault=KeySetUnavailableError("down"))  # fmt: skip
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "key_set_unavailable"
    assert span.attributes["authhooks.validate_token.reason"] == "key_set_unavailable"


def test_always_starts_an_own_span_under_the_server_span(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(flow_spans="always"))
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET /private", kind=SpanKind.SERVER) as server:
        run_flow(observer, "validate_token", [record("check_ip", point="validate_token.pre")])
        assert trace.get_current_span() is server  # the flow restored the context
    (flow,) = telemetry.flow_spans("validate_token")
    assert flow.kind is SpanKind.INTERNAL
    assert flow.parent is not None
    assert flow.parent.span_id == server.get_span_context().span_id
    assert flow.context is not None and flow.context.trace_id == server.get_span_context().trace_id
    assert flow.attributes is not None and flow.attributes["authhooks.outcome"] == "success"
    (event,) = flow.events
    assert event.attributes is not None and event.attributes["authhooks.hook.stage"] == "pre"
    (host,) = [s for s in telemetry.spans() if s.kind is SpanKind.SERVER]
    assert not any(k.startswith("authhooks.") for k in host.attributes or {})


def test_an_unsampled_server_span_is_not_written_and_no_span_is_started() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = TelemetryObserver(Settings(), tracer_provider=provider)
    with provider.get_tracer("test").start_as_current_span("GET /", kind=SpanKind.SERVER):
        run_flow(observer, "validate_token", [record("check_ip", point="validate_token.pre")])
    assert exporter.get_finished_spans() == ()
    assert observer._hook_attrs == {}


@pytest.mark.parametrize("flow_spans", ["auto", "always"])
def test_nested_flows_nest_and_restore_the_context(telemetry: InMemoryTelemetry, flow_spans: str) -> None:
    observer = telemetry.observer(Settings(flow_spans=flow_spans))  # type: ignore[arg-type]
    outer = FlowRun("login")
    observer.flow_started(outer)
    run_flow(observer, "verify_signature", parent=outer)
    run_flow(observer, "issue_token", parent=outer)
    observer.flow_ended(outer)
    assert trace.get_current_span() is trace.INVALID_SPAN

    (login,) = telemetry.flow_spans("login")
    assert login.context is not None
    if flow_spans == "always":
        for flow in ("verify_signature", "issue_token"):
            (inner,) = telemetry.flow_spans(flow)
            assert inner.parent is not None and inner.parent.span_id == login.context.span_id
        return
    # auto: the nested flows record onto the login span, the one already current
    assert [s.name for s in telemetry.spans()] == ["authhooks.login"]
    assert login.attributes is not None
    assert login.attributes["authhooks.verify_signature.outcome"] == "success"
    assert login.attributes["authhooks.issue_token.outcome"] == "success"
    assert login.attributes["authhooks.flow"] == "login"


@pytest.mark.parametrize("flow_spans", ["auto", "always"])
def test_nested_flow_without_the_context_still_nests_under_its_parent_run(
    telemetry: InMemoryTelemetry, flow_spans: str
) -> None:
    observer = telemetry.observer(Settings(flow_spans=flow_spans))  # type: ignore[arg-type]
    outer = FlowRun("login")
    observer.flow_started(outer)
    token = otel_context.attach(otel_context.Context())  # as on a worker thread that lost the context
    try:
        run_flow(observer, "verify_signature", parent=outer)
    finally:
        otel_context.detach(token)
    observer.flow_ended(outer)
    (login,) = telemetry.flow_spans("login")
    assert login.context is not None
    if flow_spans == "auto":
        assert login.attributes is not None and login.attributes["authhooks.verify_signature.outcome"] == "success"
        assert telemetry.flow_spans("verify_signature") == []
        return
    (inner,) = telemetry.flow_spans("verify_signature")
    assert inner.parent is not None
    assert inner.parent.span_id == login.context.span_id


def test_attributes_mode_writes_three_arrays_on_the_flow_span(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="attributes"))
    hooks = [
        record("rate_limit", duration=0.001),
        record("add_claim", Decision.MODIFY, point="login.post", duration=0.0025),
        record("broken", Decision.ERROR, point="login.post", error_type="KeyError"),
    ]
    run = run_flow(observer, "login", hooks)
    report_background(observer, run, record("notify", point="login.post", background=True))
    (span,) = telemetry.flow_spans("login")
    assert span.events == ()
    assert span.attributes is not None
    assert span.attributes["authhooks.hook.names"] == ("rate_limit", "add_claim", "broken")
    assert span.attributes["authhooks.hook.decisions"] == ("continue", "modify", "error")
    assert span.attributes["authhooks.hook.durations_ms"] == pytest.approx((1.0, 2.5, 1.0))
    assert span.attributes["authhooks.hooks.count"] == 3
    assert span.attributes["authhooks.hooks.failed"] == 1
    # A background run reported after the flow ended is still a linked span of its own.
    (background,) = telemetry.hook_spans()
    assert span.context is not None and [link.context.span_id for link in background.links] == [span.context.span_id]


def test_attributes_mode_on_a_host_span_prefixes_the_arrays_with_the_flow(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="attributes"))
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET /private", kind=SpanKind.SERVER):
        hooks = [
            record("a", point="validate_token.post"),
            record("b", Decision.SKIPPED, point="validate_token.post", duration=0),
        ]
        run_flow(observer, "validate_token", hooks)
    (span,) = telemetry.spans()
    assert span.attributes is not None and span.events == ()
    assert span.attributes["authhooks.validate_token.hook.names"] == ("a", "b")
    assert span.attributes["authhooks.validate_token.hook.decisions"] == ("continue", "skipped")
    assert span.attributes["authhooks.validate_token.hook.durations_ms"] == (1.0, 0.0)


def test_attributes_mode_without_hooks_writes_no_arrays(telemetry: InMemoryTelemetry) -> None:
    run_flow(telemetry.observer(Settings(hook_telemetry="attributes")), "login")
    (span,) = telemetry.flow_spans("login")
    assert span.attributes is not None and "authhooks.hook.names" not in span.attributes


@pytest.mark.parametrize("decision", list(Decision))
def test_event_mode_records_every_decision_as_an_event(telemetry: InMemoryTelemetry, decision: Decision) -> None:
    observer = telemetry.observer()
    run_flow(observer, "login", [record("the_hook", decision, duration=0.0025)])
    (span,) = telemetry.flow_spans("login")
    (event,) = span.events
    assert event.name == "authhooks.hook"
    assert event.attributes is not None
    assert event.attributes["authhooks.hook.name"] == "the_hook"
    assert event.attributes["authhooks.hook.stage"] == "pre"
    assert event.attributes["authhooks.hook.decision"] == decision.value
    assert event.attributes["authhooks.hook.duration_ms"] == pytest.approx(2.5)
    assert "authhooks.hook.enforced" not in event.attributes
    if decision in (Decision.ERROR, Decision.TIMEOUT):
        expected = "hook_timeout" if decision is Decision.TIMEOUT else "hook_error"
        assert event.attributes["error.type"] == expected
    else:
        assert "error.type" not in event.attributes
    assert telemetry.hook_spans() == []


def test_shadow_denial_is_recorded_as_not_enforced(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    run_flow(observer, "login", [record("geo_fence", Decision.SHADOW_DENY, enforced=False, reason="geo")])
    (span,) = telemetry.flow_spans("login")
    (event,) = span.events
    assert event.attributes is not None
    assert event.attributes["authhooks.hook.decision"] == "shadow_deny"
    assert event.attributes["authhooks.hook.enforced"] is False
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None and "authhooks.hooks.denied" not in span.attributes


def test_a_shadow_hook_that_denied_then_failed_carries_the_error_type_the_second_time(
    telemetry: InMemoryTelemetry,
) -> None:
    # Same hook, same decision (shadow_deny) and flow: only the failure tells the two runs apart.
    observer = telemetry.observer()
    run_flow(observer, "login", [record("geo_fence", Decision.SHADOW_DENY, enforced=False, reason="geo")])
    failed = record("geo_fence", Decision.SHADOW_DENY, enforced=False, error_type="RuntimeError", reason="hook_error")
    run_flow(observer, "login", [failed])
    first, second = (span.events[0].attributes for span in telemetry.flow_spans("login"))
    assert first is not None and "error.type" not in first
    assert second is not None and second["error.type"] == "hook_error"


def test_span_mode_makes_a_timed_child_span_per_hook_run(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="span"))
    run_flow(
        observer,
        "login",
        [
            record("rate_limit", duration=0.004),
            record("add_claim", Decision.MODIFY, point="login.post"),
            record("broken", Decision.ERROR, point="login.post", error_type="KeyError"),
        ],
    )
    (flow,) = telemetry.flow_spans("login")
    hooks = telemetry.hook_spans()
    assert [h.attributes["authhooks.hook.name"] for h in hooks if h.attributes] == ["rate_limit", "add_claim", "broken"]
    assert flow.events == ()
    assert flow.context is not None
    for hook in hooks:
        assert hook.kind is SpanKind.INTERNAL
        assert hook.parent is not None and hook.parent.span_id == flow.context.span_id
        assert hook.start_time is not None and hook.end_time is not None
    first = hooks[0]
    assert first.attributes is not None and first.start_time is not None and first.end_time is not None
    assert (first.end_time - first.start_time) / 1e9 == pytest.approx(0.004, abs=1e-6)
    assert first.attributes["authhooks.hook.point"] == "login.pre"
    assert first.attributes["authhooks.hook.decision"] == "continue"
    assert first.status.status_code is StatusCode.UNSET
    assert hooks[2].status.status_code is StatusCode.ERROR
    assert hooks[2].attributes is not None and hooks[2].attributes["error.type"] == "hook_error"
    # A hook that failed under the ignore policy is handled: the flow is not a fault.
    assert flow.status.status_code is StatusCode.UNSET
    assert flow.attributes is not None and flow.attributes["authhooks.hooks.failed"] == 1


def test_off_mode_records_no_hook_runs_in_traces(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(hook_telemetry="off"))
    run = run_flow(observer, "login", [record("rate_limit"), record("add_claim", Decision.MODIFY)])
    report_background(observer, run, record("notify", point="login.post", background=True))
    assert [s.name for s in telemetry.spans()] == ["authhooks.login"]
    assert telemetry.flow_spans("login")[0].events == ()


def test_a_rejection_leaves_the_status_unset(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="token_expired", fault=None)
    run_flow(observer, "authorize", [record("deny_locked", Decision.DENY, reason="locked")],
             outcome=Outcome.SHORT_CIRCUIT, reason="locked")  # fmt: skip
    for flow in ("validate_token", "authorize"):
        (span,) = telemetry.flow_spans(flow)
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes is not None and "error.type" not in span.attributes
    (authorize,) = telemetry.flow_spans("authorize")
    assert authorize.attributes is not None
    assert authorize.attributes["authhooks.outcome"] == "short_circuit"
    assert authorize.attributes["authhooks.hooks.denied"] == 1
    assert authorize.attributes["authhooks.denied_by"] == "deny_locked"


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        (KeySetUnavailableError("jwks down"), "key_set_unavailable"),
        (StoreUnavailableError("redis down"), "store_unavailable"),
        (HookError("bad return"), "hook_error"),
        (HookFailed("slow", TimeoutError(), timeout=True), "hook_timeout"),
        (ConfigurationError("bad"), "configuration_error"),
        (RuntimeError("boom"), "internal_error"),
    ],
)
def test_a_fault_sets_error_status_and_error_type(
    telemetry: InMemoryTelemetry, fault: BaseException, error_type: str
) -> None:
    observer = telemetry.observer()
    run_flow(observer, "validate_token", outcome=Outcome.FAILURE, reason="unavailable", fault=fault)
    (span,) = telemetry.flow_spans("validate_token")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is None  # never exception text
    assert span.attributes is not None and span.attributes["error.type"] == error_type
    assert error_type in names.ERROR_TYPES


def test_a_rejection_passed_as_fault_is_not_a_fault() -> None:
    assert error_type_of(ExpiredToken()) is None


def test_a_hook_failing_closed_is_a_fault(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    failing = record("check_ip", Decision.TIMEOUT, error_type="TimeoutError", reason="hook_timeout")
    run_flow(observer, "login", [failing], outcome=Outcome.SHORT_CIRCUIT, reason="hook_timeout")
    (span,) = telemetry.flow_spans("login")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "hook_timeout"
    assert span.attributes["authhooks.denied_by"] == "check_ip"


def test_a_shadow_hook_failing_is_not_a_fault(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer()
    shadow = record("check_ip", Decision.SHADOW_DENY, enforced=False, error_type="ValueError", reason="hook_error")
    run_flow(observer, "login", [shadow])
    (span,) = telemetry.flow_spans("login")
    assert span.status.status_code is StatusCode.UNSET
    (event,) = span.events
    assert event.attributes is not None and event.attributes["error.type"] == "hook_error"


@pytest.mark.parametrize("mode", ["event", "span"])
def test_background_runs_are_linked_spans(telemetry: InMemoryTelemetry, mode: str) -> None:
    observer = telemetry.observer(Settings(hook_telemetry=mode))  # type: ignore[arg-type]
    queued = record("notify", Decision.QUEUED, point="login.post", duration=0.0)
    run = run_flow(observer, "login", [queued])
    flow_context = run.state[FLOW_SPAN_CONTEXT]
    report_background(observer, run, record("notify", point="login.post", background=True, duration=0.05))
    report_background(observer, run, record("audit_hook", Decision.ERROR, point="login.post", background=True,
                                            error_type="OSError"))  # fmt: skip

    (flow,) = telemetry.flow_spans("login")
    assert flow.context is not None and flow.context == flow_context
    background = [s for s in telemetry.hook_spans() if s.attributes and s.attributes.get("authhooks.hook.background")]
    assert len(background) == 2
    for span in background:
        assert span.parent is None  # its own trace, started after the flow ended
        assert [link.context.span_id for link in span.links] == [flow.context.span_id]
        assert span.attributes is not None and span.attributes["authhooks.flow"] == "login"
    assert background[1].status.status_code is StatusCode.ERROR
    assert flow.attributes is not None and flow.attributes["authhooks.hooks.count"] == 1


def test_subject_is_not_recorded_by_default(telemetry: InMemoryTelemetry) -> None:
    run_flow(telemetry.observer(), "login", subject=SUBJECT)
    (span,) = telemetry.flow_spans("login")
    assert span.attributes is not None
    assert "authhooks.subject" not in span.attributes and "authhooks.subject.hash" not in span.attributes


def test_subject_in_clear_when_enabled(telemetry: InMemoryTelemetry) -> None:
    run_flow(telemetry.observer(Settings(record_subject=True)), "login", subject=SUBJECT)
    (span,) = telemetry.flow_spans("login")
    assert span.attributes is not None and span.attributes["authhooks.subject"] == SUBJECT


def test_subject_hashed_with_a_key_when_enabled(telemetry: InMemoryTelemetry) -> None:
    settings = Settings(record_subject=True, record_subject_hashed=True)
    run_flow(telemetry.observer(settings, subject_key=b"k" * 32), "login", subject=SUBJECT)
    run_flow(telemetry.observer(settings, subject_key=b"k" * 32), "login", subject=SUBJECT)
    run_flow(telemetry.observer(settings, subject_key=b"other-key" * 4), "login", subject=SUBJECT)
    hashes = [s.attributes["authhooks.subject.hash"] for s in telemetry.flow_spans("login") if s.attributes]
    assert hashes[0] == hashes[1] != hashes[2]
    assert isinstance(hashes[0], str) and len(hashes[0]) == 32 and SUBJECT not in hashes[0]
    assert all("authhooks.subject" not in (s.attributes or {}) for s in telemetry.flow_spans("login"))


def test_disabled_telemetry_records_nothing(telemetry: InMemoryTelemetry) -> None:
    observer = telemetry.observer(Settings(telemetry=False))
    run = run_flow(observer, "login", [record("rate_limit")])
    assert telemetry.spans() == []
    assert telemetry.metrics() == []
    assert run.state == {}


def test_unsampled_flows_skip_attribute_work() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    observer = TelemetryObserver(Settings(), tracer_provider=TracerProvider(sampler=ALWAYS_OFF))
    run = run_flow(observer, "login", [record("rate_limit")], subject=SUBJECT)
    assert not run.state[FLOW_SPAN_CONTEXT].is_valid or not run.state[FLOW_SPAN_CONTEXT].trace_flags.sampled
    assert observer._hook_attrs == {}  # no hook-event attributes were built for a span nobody records


def test_without_an_sdk_the_observer_is_a_harmless_no_op() -> None:
    observer = TelemetryObserver(Settings(hook_telemetry="span"))  # global proxy providers: no SDK installed
    run = run_flow(observer, "login", [record("rate_limit")])
    report_background(observer, run, record("notify", background=True))
    assert trace.get_current_span() is trace.INVALID_SPAN
