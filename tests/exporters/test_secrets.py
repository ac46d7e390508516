"""No token, Authorization header or (by default) subject in any span, metric, audit record or console line."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from authhooks._redact import install_redacting_filter
from authhooks.config import Settings
from authhooks.events import Decision, Outcome, RequestInfo
from authhooks.exporters import AuditObserver, CompactConsoleSpanExporter, InMemoryTelemetry
from authhooks.hooks.observer import Observer
from telemetry._flows import SUBJECT, TOKEN, record, report_background, run_flow

SECRETS = (TOKEN, TOKEN.split(".")[2], SUBJECT, "Bearer ")


@pytest.mark.parametrize("mode", ["event", "span"])
def test_no_secret_reaches_any_output(tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    request = RequestInfo(
        method="GET",
        path="/private",
        client_ip="127.0.0.1",
        headers={"authorization": f"Bearer {TOKEN}", "cookie": f"session={TOKEN}"},
    )
    console = io.StringIO()
    path = tmp_path / "audit.jsonl"
    install_redacting_filter()
    with InMemoryTelemetry() as telemetry, AuditObserver(path, Settings(state_dir=tmp_path)) as audit:
        telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(CompactConsoleSpanExporter(console)))
        observers: list[Observer] = [telemetry.observer(Settings(hook_telemetry=mode)), audit]  # type: ignore[arg-type]
        hooks = [
            record("rate_limit", point="validate_token.pre"),
            record("deny_locked", Decision.DENY, point="validate_token.post", reason="locked"),
        ]
        run = run_flow(observers, "validate_token", hooks, outcome=Outcome.SHORT_CIRCUIT, reason="locked",
                       subject=SUBJECT, request=request)  # fmt: skip
        report_background(observers, run, record("notify", point="validate_token.post", background=True))
        run_flow(observers, "validate_token", outcome=Outcome.FAILURE, reason="internal",
                 fault=RuntimeError(f"decode failed for {TOKEN}"), subject=SUBJECT, request=request)  # fmt: skip
        logging.getLogger("authhooks.flows").warning("rejected %s for %s", TOKEN, "x")

        spans = telemetry.spans()
        assert len(spans) >= 2
        dumped = "\n".join(span.to_json() for span in spans)
        metrics = repr(telemetry.metrics())
    outputs = {
        "spans": dumped,
        "metrics": metrics,
        "audit": path.read_text(),
        "console": console.getvalue(),
        "logs": caplog.text,
    }
    assert "authhooks.validate_token" in outputs["console"]
    for where, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}… found in {where}"
