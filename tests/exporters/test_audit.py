"""The hash-chained audit log: writing, resuming, and detecting each kind of tampering."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import pytest

from authhooks.config import Settings
from authhooks.errors import StoreUnavailableError
from authhooks.events import Decision, Outcome
from authhooks.exporters import GENESIS, AuditObserver, InMemoryTelemetry, audit_verify_main, verify_audit_log
from authhooks.exporters.audit import record_hash
from authhooks.hooks.observer import Observer
from telemetry._flows import SUBJECT, record, report_background, run_flow


def _write(path: Path, flows: int = 5) -> None:
    with AuditObserver(path) as audit:
        for i in range(flows):
            outcome, reason = (Outcome.SUCCESS, None) if i % 2 else (Outcome.FAILURE, "bad_signature")
            hooks = [record("rate_limit"), record("add_claim", Decision.MODIFY)]
            run_flow(audit, "login", hooks, outcome=outcome, reason=reason)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_records_are_chained_and_carry_the_decisions(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "log.jsonl"
    _write(path, 3)
    records = [json.loads(line) for line in _lines(path)]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    for previous, current in itertools.pairwise(records):
        assert current["prev"] == previous["hash"]
    for r in records:
        assert r["hash"] == record_hash(r) and len(r["hash"]) == 64
        assert r["kind"] == "flow" and r["flow"] == "login"
        assert r["time"].endswith("Z")
    assert records[0]["outcome"] == "failure" and records[0]["reason"] == "bad_signature"
    assert [(h["hook"], h["decision"]) for h in records[1]["hooks"]] == [
        ("rate_limit", "continue"),
        ("add_claim", "modify"),
    ]
    assert verify_audit_log(path).ok


def test_trace_ids_faults_background_and_handler_events(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with InMemoryTelemetry() as telemetry, AuditObserver(path) as audit:
        observers: list[Observer] = [telemetry.observer(), audit]
        run = run_flow(observers, "validate_token", [record("handler:webhook", point="validate_token.post")],
                       outcome=Outcome.FAILURE, reason="unavailable", fault=StoreUnavailableError())  # fmt: skip
        report_background(observers, run, record("notify", point="validate_token.post", background=True))
        (span,) = telemetry.flow_spans("validate_token")
    records = [json.loads(line) for line in _lines(path)]
    assert [r["kind"] for r in records] == ["event", "flow", "hook"]
    assert span.context is not None
    for r in records:
        assert r["trace_id"] == f"{span.context.trace_id:032x}"
        assert r["span_id"] == f"{span.context.span_id:016x}"
    assert records[0]["hook"]["hook"] == "handler:webhook"
    assert records[1]["error_type"] == "store_unavailable"
    assert records[2]["hook"]["background"] is True
    assert verify_audit_log(path).ok


def test_subject_only_when_enabled(tmp_path: Path) -> None:
    for settings, key in [(Settings(), None), (Settings(record_subject=True), "subject"),
                          (Settings(record_subject_hashed=True), "subject_hash")]:  # fmt: skip
        path = tmp_path / f"{key}.jsonl"
        with AuditObserver(path, settings) as audit:
            run_flow(audit, "login", subject=SUBJECT)
        (r,) = [json.loads(line) for line in _lines(path)]
        if key is None:
            assert "subject" not in r and "subject_hash" not in r
        else:
            assert (r[key] == SUBJECT) is (key == "subject")


def test_a_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 2)
    with AuditObserver(path, fsync="always") as audit:
        assert audit.last_hash == json.loads(_lines(path)[-1])["hash"]
        run_flow(audit, "login")
    assert [json.loads(line)["seq"] for line in _lines(path)] == [1, 2, 3]
    report = verify_audit_log(path)
    assert report.ok and report.records == 3 and report.last_seq == 3


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditObserver(path) as audit:
        threads = [threading.Thread(target=lambda: [run_flow(audit, "login") for _ in range(50)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    report = verify_audit_log(path)
    assert report.ok and report.records == 200


def test_an_untouched_log_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.jsonl"
    _write(path)
    assert audit_verify_main(str(path)) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "5 records" in out and len(out.splitlines()) == 1


def test_an_empty_or_missing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    assert verify_audit_log(tmp_path / "empty.jsonl").ok
    assert audit_verify_main(str(tmp_path / "missing.jsonl")) == 2
    assert capsys.readouterr().out.startswith("ERROR ")


def _tamper_edit(lines: list[str]) -> list[str]:
    r = json.loads(lines[2])
    r["outcome"] = "success" if r["outcome"] == "failure" else "failure"
    lines[2] = json.dumps(r, sort_keys=True, separators=(",", ":"))
    return lines


def _tamper_edit_and_rehash(lines: list[str]) -> list[str]:
    r = json.loads(lines[2])
    r["reason"] = "nothing_to_see"
    r["hash"] = record_hash(r)
    lines[2] = json.dumps(r, sort_keys=True, separators=(",", ":"))
    return lines


@pytest.mark.parametrize(
    ("tamper", "kind", "line", "seq"),
    [
        (_tamper_edit, "edited", 3, 3),
        (_tamper_edit_and_rehash, "broken_chain", 4, 4),
        (lambda lines: lines[:2] + lines[3:], "removed", 3, 4),
        (lambda lines: lines[1:], "removed", 1, 2),
        (lambda lines: [*lines[:1], lines[2], lines[1], *lines[3:]], "reordered", 2, 3),
        (lambda lines: [*lines[:3], lines[2], *lines[3:]], "duplicated", 4, 3),
        (lambda lines: [*lines[:2], "{not json", *lines[2:]], "garbled", 3, None),
    ],
    ids=["edited", "edited-rehashed", "removed", "removed-first", "swapped", "duplicated", "garbled"],
)
def test_each_tampering_is_reported_naming_the_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: object, kind: str, line: int, seq: int | None
) -> None:
    path = tmp_path / "log.jsonl"
    _write(path)
    path.write_text("\n".join(tamper(_lines(path))) + "\n")  # type: ignore[operator]
    report = verify_audit_log(path)
    assert not report.ok
    first = report.problems[0]
    assert (first.kind, first.line, first.seq) == (kind, line, seq)
    assert audit_verify_main(str(path)) == 1
    verdict = capsys.readouterr().out.splitlines()[0]
    assert verdict.startswith("TAMPERED ") and f"{kind} at line {line}" in verdict


def test_a_truncated_last_line_is_reported_and_the_writer_resumes_after_it(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a torn final write
    report = verify_audit_log(path)
    assert [(p.kind, p.line) for p in report.problems] == [("truncated", 5)]
    with AuditObserver(path) as audit:
        run_flow(audit, "login")
    report = verify_audit_log(path)
    assert [(p.kind, p.line) for p in report.problems] == [("garbled", 5)]
    assert json.loads(_lines(path)[-1])["seq"] == 5  # the chain continued from the last complete record
