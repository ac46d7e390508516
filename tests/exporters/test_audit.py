"""The keyed audit log: writing, resuming, its checkpoint, and detecting every kind of tampering."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import itertools
import json
import logging
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from authhooks.config import Settings
from authhooks.errors import ConfigurationError, StoreUnavailableError
from authhooks.events import Decision, Outcome
from authhooks.exporters import GENESIS, AuditObserver, InMemoryTelemetry, audit_verify_main, verify_audit_log
from authhooks.exporters.audit import canonical_json, checkpoint_path, key_id, read_checkpoint, record_mac
from authhooks.hooks.observer import Observer
from telemetry._flows import SUBJECT, record, report_background, run_flow

KEY = b"audit-key-for-tests-0123456789abcdef"
OTHER_KEY = b"an-attacker-guess-0123456789abcdef!!"


def _write(path: Path, flows: int = 5, key: bytes = KEY) -> None:
    with AuditObserver(path, key=key) as audit:
        for i in range(flows):
            outcome, reason = (Outcome.SUCCESS, None) if i % 2 else (Outcome.FAILURE, "bad_signature")
            hooks = [record("rate_limit"), record("add_claim", Decision.MODIFY)]
            run_flow(audit, "login", hooks, outcome=outcome, reason=reason)


def _lines(path: Path) -> list[str]:
    """The lines of a JSONL file (split on line feeds only: records may hold U+0085 or U+2028)."""
    text = path.read_bytes().decode("utf-8")
    return text.removesuffix("\n").split("\n") if text else []


def _dump(record: dict[str, Any]) -> str:
    return canonical_json(record).decode()


def _key_file(tmp_path: Path, key: bytes = KEY) -> str:
    path = tmp_path / "key"
    path.write_bytes(key + b"\n")
    return str(path)


def test_records_are_keyed_chained_and_carry_the_decisions(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "log.jsonl"
    _write(path, 3)
    records = [json.loads(line) for line in _lines(path)]
    mark = read_checkpoint(checkpoint_path(path), KEY)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == mark.genesis != GENESIS and len(mark.genesis) == 64
    for previous, current in itertools.pairwise(records):
        assert current["prev"] == previous["mac"]
    for r in records:
        assert r["mac"] == record_mac(KEY, r) != record_mac(OTHER_KEY, r) and len(r["mac"]) == 64
        assert "hash" not in r
        assert r["kind"] == "flow" and r["flow"] == "login"
        assert r["time"].endswith("Z")
    assert (mark.seq, mark.head, mark.key_id) == (3, records[-1]["mac"], key_id(KEY))
    assert records[0]["outcome"] == "failure" and records[0]["reason"] == "bad_signature"
    assert [(h["hook"], h["decision"]) for h in records[1]["hooks"]] == [
        ("rate_limit", "continue"),
        ("add_claim", "modify"),
    ]
    assert stat.S_IMODE(checkpoint_path(path).stat().st_mode) == 0o600
    report = verify_audit_log(path, KEY)
    assert report.ok and report.checkpoint_seq == 3 and report.last_mac == records[-1]["mac"]


def test_two_logs_have_different_genesis(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", 1)
    _write(tmp_path / "b.jsonl", 1)
    first = [json.loads(_lines(tmp_path / name)[0])["prev"] for name in ("a.jsonl", "b.jsonl")]
    assert first[0] != first[1]


def test_trace_ids_faults_background_and_handler_events(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with InMemoryTelemetry() as telemetry, AuditObserver(path, key=KEY) as audit:
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
    assert verify_audit_log(path, KEY).ok


def test_subject_only_when_enabled(tmp_path: Path) -> None:
    for options, name in [({}, None), ({"record_subject": True}, "subject"),
                          ({"record_subject_hashed": True}, "subject_hash")]:  # fmt: skip
        path = tmp_path / f"{name}.jsonl"
        with AuditObserver(path, Settings(audit_key=KEY, **options)) as audit:  # type: ignore[arg-type]
            run_flow(audit, "login", subject=SUBJECT)
        (r,) = [json.loads(line) for line in _lines(path)]
        if name is None:
            assert "subject" not in r and "subject_hash" not in r
        else:
            assert (r[name] == SUBJECT) is (name == "subject")
        assert verify_audit_log(path, KEY).ok


def test_a_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 2)
    with AuditObserver(path, key=KEY, fsync="always") as audit:
        assert audit.last_mac == json.loads(_lines(path)[-1])["mac"]
        run_flow(audit, "login")
    assert [json.loads(line)["seq"] for line in _lines(path)] == [1, 2, 3]
    report = verify_audit_log(path, KEY)
    assert report.ok and report.records == 3 and report.last_seq == 3 and report.checkpoint_seq == 3


def test_concurrent_threads_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with AuditObserver(path, key=KEY) as audit:
        threads = [threading.Thread(target=lambda: [run_flow(audit, "login") for _ in range(50)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    report = verify_audit_log(path, KEY)
    assert report.ok and report.records == 200


_WORKER = """
import sys
from authhooks.exporters.audit import AuditObserver
with AuditObserver(sys.argv[1], key=sys.argv[2].encode()) as audit:
    for i in range(int(sys.argv[3])):
        audit.append("event", {"worker": sys.argv[4], "i": i})
"""


def test_processes_sharing_one_file_keep_one_chain(tmp_path: Path) -> None:
    """Gunicorn-style workers appending to one file: the flock and the catch-up keep a single chain."""
    path = tmp_path / "log.jsonl"
    AuditObserver(path, key=KEY).close()  # created first, as a master process would
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(path), KEY.decode(), "60", str(n)]) for n in range(4)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]
    report = verify_audit_log(path, KEY)
    assert report.ok, report.problems[:3]
    assert report.records == 240 and report.checkpoint_seq == 240
    assert sorted(json.loads(line)["seq"] for line in _lines(path)) == list(range(1, 241))


def test_an_untouched_log_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.jsonl"
    _write(path)
    assert audit_verify_main(str(path), key_file=_key_file(tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and "5 records" in out and len(out.splitlines()) == 1


def test_an_empty_or_missing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    AuditObserver(tmp_path / "empty.jsonl", key=KEY).close()
    assert verify_audit_log(tmp_path / "empty.jsonl", KEY).ok
    assert audit_verify_main(str(tmp_path / "missing.jsonl"), key_file=_key_file(tmp_path)) == 2
    assert capsys.readouterr().out.startswith("ERROR ")


def test_verify_needs_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 2)
    assert audit_verify_main(str(path), environ={}) == 2
    out = capsys.readouterr().out
    assert out.startswith("ERROR ") and "AUTHHOOKS_AUDIT_KEY" in out and "--key-file" in out
    assert audit_verify_main(str(path), environ={"AUTHHOOKS_AUDIT_KEY": KEY.decode()}) == 0
    assert audit_verify_main(str(path), environ={"AUTHHOOKS_AUDIT_KEY": "short"}) == 2
    assert "at least 32 bytes" in capsys.readouterr().out
    assert audit_verify_main(str(path), key_file=str(tmp_path / "nope")) == 2


def test_the_wrong_key_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 3)
    report = verify_audit_log(path, OTHER_KEY)
    assert report.problems[0].kind == "wrong_key" and report.problems[0].line is None
    assert audit_verify_main(str(path), key_file=_key_file(tmp_path, OTHER_KEY)) == 1
    assert "wrong_key at the checkpoint" in capsys.readouterr().out.splitlines()[0]
    with pytest.raises(ConfigurationError, match="key id"):
        AuditObserver(path, key=OTHER_KEY)


def test_a_generated_key_is_kept_in_the_state_dir_and_announced_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="authhooks")
    state = tmp_path / "state"
    path = tmp_path / "log.jsonl"
    with AuditObserver(path, Settings(state_dir=state)) as audit:
        run_flow(audit, "login")
    key_path = state / "audit-key"
    key = key_path.read_bytes().strip()
    assert len(key) == 64 and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(key_path) in warnings[0] and key.decode() not in caplog.text
    with AuditObserver(path, Settings(state_dir=state)) as audit:  # reused, not announced again
        run_flow(audit, "login")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert audit_verify_main(str(path), key_file=str(key_path)) == 0
    assert verify_audit_log(path, key).records == 2


def test_the_configured_key_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    settings = Settings.from_env({"AUTHHOOKS_AUDIT_KEY": KEY.decode(), "AUTHHOOKS_STATE_DIR": str(tmp_path)})
    with AuditObserver(path, settings) as audit:
        run_flow(audit, "login")
    assert not (tmp_path / "audit-key").exists()
    assert verify_audit_log(path, KEY).ok
    assert "Secret('**********')" in repr(Settings(audit_key=KEY))
    with pytest.raises(ConfigurationError, match="AUTHHOOKS_AUDIT_KEY: the audit key must be at least 32 bytes"):
        AuditObserver(tmp_path / "other.jsonl", Settings(audit_key=b"short"))  # type: ignore[arg-type]


# -- a writer never re-signs a log it cannot vouch for ----------------------------------------------------


def _refusals() -> list[tuple[str, Callable[[Path], None], str]]:
    def truncate(path: Path) -> None:
        path.write_text("\n".join(_lines(path)[:-2]) + "\n")

    def empty(path: Path) -> None:
        path.write_bytes(b"")

    def no_checkpoint(path: Path) -> None:
        checkpoint_path(path).unlink()

    def forged_tail(path: Path) -> None:
        last = json.loads(_lines(path)[-1])
        forged = {**last, "seq": last["seq"] + 1, "prev": last["mac"], "outcome": "success"}
        forged["mac"] = record_mac(OTHER_KEY, forged)
        with path.open("a") as f:
            f.write(_dump(forged) + "\n")

    def forged_checkpoint(path: Path) -> None:
        data = json.loads(checkpoint_path(path).read_bytes())
        data["seq"] -= 1
        checkpoint_path(path).write_text(json.dumps(data))

    return [
        ("truncated", truncate, "counts 4 records, the file ends at seq 2"),
        ("emptied", empty, "counts 4 records, the file holds none"),
        ("no-checkpoint", no_checkpoint, "checkpoint .* is missing"),
        ("forged-tail", forged_tail, "last record .seq 5. has a wrong mac"),
        ("forged-checkpoint", forged_checkpoint, "mac does not match"),
    ]


@pytest.mark.parametrize(("tamper", "message"), [r[1:] for r in _refusals()], ids=[r[0] for r in _refusals()])
def test_a_tampered_log_is_not_resumed(tmp_path: Path, tamper: Callable[[Path], None], message: str) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 4)
    tamper(path)
    before = (path.read_bytes(), checkpoint_path(path).read_bytes() if checkpoint_path(path).exists() else None)
    with pytest.raises(ConfigurationError, match=message) as info:
        AuditObserver(path, key=KEY)
    assert "authhooks audit verify" in str(info.value)
    assert not verify_audit_log(path, KEY).ok  # and verify still sees it: nothing was re-signed
    after = (path.read_bytes(), checkpoint_path(path).read_bytes() if checkpoint_path(path).exists() else None)
    assert after == before


def _legacy_log(path: Path, n: int = 3) -> None:
    """What authhooks wrote before the chain was keyed: SHA-256 ``hash``, all-zero genesis, no checkpoint."""
    prev, lines = GENESIS, []
    for seq in range(1, n + 1):
        r: dict[str, Any] = {"flow": "login", "kind": "flow", "outcome": "success", "prev": prev, "seq": seq}
        r["hash"] = prev = hashlib.sha256(canonical_json(r)).hexdigest()
        lines.append(_dump(r))
    path.write_text("\n".join(lines) + "\n")


def test_an_unkeyed_legacy_log_is_refused_not_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "legacy.jsonl"
    _legacy_log(path)
    report = verify_audit_log(path, KEY)
    assert not report.ok and report.unkeyed and [p.kind for p in report.problems] == ["unkeyed"]
    assert audit_verify_main(str(path), key_file=_key_file(tmp_path)) == 1
    assert capsys.readouterr().out.startswith(f"UNKEYED {path}: an unkeyed SHA-256 chain")
    with pytest.raises(ConfigurationError, match="unkeyed hash chain"):
        AuditObserver(path, key=KEY)


# -- every kind of tampering, named ----------------------------------------------------------------------


def _tamper_edit(lines: list[str]) -> list[str]:
    r = json.loads(lines[2])
    r["outcome"] = "success" if r["outcome"] == "failure" else "failure"
    lines[2] = _dump(r)
    return lines


def _tamper_edit_and_rehash(lines: list[str]) -> list[str]:
    """The attack the unkeyed chain could not see: edit, recompute this and every later hash without the key."""
    prev = json.loads(lines[1])["mac"]
    for i in range(2, len(lines)):
        r = json.loads(lines[i])
        if i == 2:
            r["reason"] = "nothing_to_see"
        r["prev"] = prev
        r["mac"] = prev = hashlib.sha256(canonical_json({k: v for k, v in r.items() if k != "mac"})).hexdigest()
        lines[i] = _dump(r)
    return lines


@pytest.mark.parametrize(
    ("tamper", "kind", "line", "seq"),
    [
        (_tamper_edit, "edited", 3, 3),
        (_tamper_edit_and_rehash, "edited", 3, 3),
        (lambda lines: lines[:2] + lines[3:], "removed", 3, 4),
        (lambda lines: lines[1:], "removed", 1, 2),
        (lambda lines: [*lines[:1], lines[2], lines[1], *lines[3:]], "reordered", 2, 3),
        (lambda lines: [*lines[:3], lines[2], *lines[3:]], "duplicated", 4, 3),
        (lambda lines: [*lines[:2], "{not json", *lines[2:]], "garbled", 3, None),
        (lambda lines: [*lines[:2], "[" * 100_000, *lines[2:]], "garbled", 3, None),
        (lambda lines: lines[:3], "tail_removed", None, 5),
        (lambda lines: [], "tail_removed", None, 5),
    ],
    ids=[
        "edited",
        "edited-rechained",
        "removed",
        "removed-first",
        "swapped",
        "duplicated",
        "garbled",
        "nested",
        "tail-removed",
        "emptied",
    ],
)
def test_each_tampering_is_reported_naming_the_record(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[list[str]], list[str]],
    kind: str,
    line: int | None,
    seq: int | None,
) -> None:
    path = tmp_path / "log.jsonl"
    _write(path)
    lines = tamper(_lines(path))
    path.write_text("".join(f"{text}\n" for text in lines))
    report = verify_audit_log(path, KEY)
    assert not report.ok
    first = report.problems[0]
    assert (first.kind, first.line, first.seq) == (kind, line, seq)
    assert audit_verify_main(str(path), key_file=_key_file(tmp_path)) == 1
    verdict = capsys.readouterr().out.splitlines()[0]
    where = "the checkpoint" if line is None else f"line {line}"
    assert verdict.startswith("TAMPERED ") and f"{kind} at {where}" in verdict


def test_a_torn_last_line_is_reported_and_the_writer_resumes_after_it(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    _write(path, 4)
    with path.open("ab") as f:
        f.write(b'{"flow":"login","kind":"fl')  # a crash in the middle of writing record 5
    report = verify_audit_log(path, KEY)
    assert [(p.kind, p.line) for p in report.problems] == [("truncated", 5)]
    with AuditObserver(path, key=KEY) as audit:
        run_flow(audit, "login")
    report = verify_audit_log(path, KEY)
    assert [(p.kind, p.line) for p in report.problems] == [("garbled", 5)]
    assert json.loads(_lines(path)[-1])["seq"] == 5  # the chain continued from the last complete record


def test_a_crash_between_record_and_checkpoint_passes_and_is_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one record a crash can leave past the checkpoint is authentic: verify says so; a writer re-signs."""
    path = tmp_path / "log.jsonl"
    _write(path, 3)
    stale = checkpoint_path(path).read_bytes()
    _write(path, 1)
    checkpoint_path(path).write_bytes(stale)  # as if the process died between its two writes
    report = verify_audit_log(path, KEY)
    assert report.ok and (report.checkpoint_seq, report.last_seq) == (3, 4)
    assert "1 record after the checkpoint" in report.verdict()
    AuditObserver(path, key=KEY).close()
    assert verify_audit_log(path, KEY).checkpoint_seq == 4


# -- the whole class of tampering, generated ---------------------------------------------------------------

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=6))
_FIELDS = st.dictionaries(st.sampled_from(["flow", "outcome", "reason", "subject", "extra"]), _VALUES, max_size=4)


@st.composite
def _tampering(draw: st.DrawFn, n: int) -> tuple[str, Any]:
    """One tamper operation that applies to a log of ``n`` records."""
    ops: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.tuples(st.just("append_sha"), _FIELDS),
        st.tuples(st.just("append_other_key"), _FIELDS),
        st.tuples(st.just("delete_checkpoint"), st.none()),
        st.tuples(st.just("swap_checkpoint"), st.integers(0 if n else 1, 4)),  # two empty logs: nothing to swap
        st.tuples(st.just("forge_checkpoint"), st.integers(0, n + 2)),
    ]
    if n >= 1:
        ops += [
            st.tuples(st.just("rechain_sha"), st.booleans()),
            st.tuples(st.just("rechain_other_key"), st.booleans()),
            st.tuples(st.just("truncate"), st.integers(0, n - 1)),
            st.tuples(st.just("truncate_bytes"), st.integers(0, 10_000)),
            st.tuples(st.just("delete"), st.integers(0, n - 1)),
            st.tuples(st.just("duplicate"), st.integers(0, n - 1)),
            st.tuples(st.just("modify"), st.tuples(st.integers(0, n - 1), st.integers(0, 20), _VALUES)),
        ]
    if n >= 2:
        ops.append(st.tuples(st.just("reorder"), st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))
    return draw(st.one_of(ops))


def _rechain(records: list[dict[str, Any]], mac: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    prev = records[0]["prev"]
    out = []
    for r in records:
        r = {**r, "prev": prev, "outcome": "success"}
        r["mac"] = prev = mac(r)
        out.append(r)
    return out


def _sha(r: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: v for k, v in r.items() if k != "mac"})).hexdigest()


def _apply(op: str, arg: Any, path: Path, other: Path) -> None:
    """Apply one tampering to the log at ``path`` (``other``: another log written with the same key)."""
    records = [json.loads(line) for line in _lines(path)]
    mark = checkpoint_path(path)
    if op in ("append_sha", "append_other_key"):
        last = records[-1] if records else {"seq": 0, "mac": json.loads(mark.read_bytes())["head"]}
        forged = {**arg, "kind": "flow", "seq": last["seq"] + 1, "prev": last["mac"], "time": "2026-01-01T00:00:00Z"}
        forged["mac"] = _sha(forged) if op == "append_sha" else record_mac(OTHER_KEY, forged)
        records.append(forged)
    elif op == "delete_checkpoint":
        mark.unlink()
    elif op == "swap_checkpoint":
        _write(other, arg)
        mark.write_bytes(checkpoint_path(other).read_bytes())
    elif op == "forge_checkpoint":  # a checkpoint of the attacker's choosing, signed without the key
        body = json.loads(mark.read_bytes())
        body.update(seq=arg, head=records[arg - 1]["mac"] if 0 < arg <= len(records) else body["head"])
        body["mac"] = hmac.new(OTHER_KEY, canonical_json({k: v for k, v in body.items() if k != "mac"}),
                               hashlib.sha256).hexdigest()  # fmt: skip
        mark.write_text(_dump(body))
    elif op in ("rechain_sha", "rechain_other_key"):
        records = _rechain(records, _sha if op == "rechain_sha" else lambda r: record_mac(OTHER_KEY, r))
        if arg:  # and a matching checkpoint, signed with the attacker's key
            body = json.loads(mark.read_bytes())
            body.update(head=records[-1]["mac"], key_id=key_id(OTHER_KEY))
            body["mac"] = hmac.new(OTHER_KEY, canonical_json({k: v for k, v in body.items() if k != "mac"}),
                                   hashlib.sha256).hexdigest()  # fmt: skip
            mark.write_text(_dump(body))
    elif op == "truncate":
        records = records[:arg]
    elif op == "truncate_bytes":
        data = path.read_bytes()
        path.write_bytes(data[: arg % len(data)])
        return
    elif op == "delete":
        del records[arg]
    elif op == "duplicate":
        records.insert(arg, records[arg])
    elif op == "modify":
        index, field, value = arg
        r = records[index]
        name = sorted(r)[field % len(r)]
        r[name] = value if value != r[name] else f"{r[name]}!"
    elif op == "reorder":
        i, j = arg
        if i == j:
            j = (i + 1) % len(records)
        records[i], records[j] = records[j], records[i]
    path.write_text("".join(_dump(r) + "\n" for r in records), encoding="utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), writes=st.lists(_FIELDS, max_size=6), sessions=st.integers(1, 2))
def test_every_generated_tampering_fails_verification(data: st.DataObject, writes: list[dict[str, Any]],
                                                      sessions: int) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        path, other = Path(directory) / "log.jsonl", Path(directory) / "other.jsonl"
        cut = len(writes) // 2 if sessions == 2 else len(writes)
        for chunk in (writes[:cut], writes[cut:]) if sessions == 2 else (writes,):
            with AuditObserver(path, key=KEY) as audit:  # one or two writer sessions (a restart in between)
                for fields in chunk:
                    audit.append("flow", fields)
        untouched = verify_audit_log(path, KEY)
        assert untouched.ok and untouched.records == len(writes), untouched.problems
        op, arg = data.draw(_tampering(len(writes)), label="tampering")
        event(op)
        _apply(op, arg, path, other)
        report = verify_audit_log(path, KEY)
        assert not report.ok, (op, arg)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert audit_verify_main(str(path), environ={"AUTHHOOKS_AUDIT_KEY": KEY.decode()}) == 1
        assert out.getvalue().startswith(("TAMPERED ", "UNKEYED "))
