"""The audit log: a hash-chained JSONL file with one record per decision, written by an observer.

Each line is one JSON object (canonical form: sorted keys, no spaces, UTF-8)::

    {"flow":"login","hash":"…","hooks":[{"decision":"continue","hook":"rate_limit",…}],"kind":"flow",
     "outcome":"success","prev":"…","reason":null,"seq":7,"span_id":"…","time":"2026-…Z","trace_id":"…",…}

- ``seq`` counts from 1; ``prev`` is the ``hash`` of the previous record (64 zeros for the first, "genesis");
  ``hash`` is the SHA-256 (hex) of the canonical JSON of the record without ``hash``. Editing, removing or
  reordering a record therefore breaks the chain, which :func:`~authhooks.exporters.audit_verify.verify_audit_log`
  detects. Removing the *last* records cannot be detected from the file alone: keep the last ``hash`` elsewhere
  (a log line, a metric backend) if that matters.
- ``kind`` is ``flow`` (one per ended flow, with its hook decisions in order), ``hook`` (a background hook run,
  reported after its flow ended) or ``event`` (a declarative handler action: a hook whose name starts with
  ``event_prefix``, also listed in its flow's record; or a record appended with :meth:`AuditObserver.append`).
- Records carry flow, outcome, reason, ``error_type`` (faults only), duration, hook decisions, ``trace_id`` and
  ``span_id`` of the flow span (when one was recorded), never inputs, tokens or headers; the subject only under
  ``record_subject`` (``subject``) or ``record_subject_hashed`` (``subject_hash``), as in telemetry.

Writing: records are appended under a lock, each with one ``write`` to a file opened in append mode and flushed
at once (a crashed process loses nothing it reported). ``fsync="always"`` also calls ``os.fsync`` after every
record (survives power loss, costs a disk round trip per flow); the default ``fsync="close"`` syncs on
:meth:`AuditObserver.close` only. One process should write a given file (with several workers, give each its
own file). An existing file is resumed: the chain continues from its last complete record; a torn last line
(a crash mid-write) is left in place, after a line break, for the verifier to report.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Literal

from opentelemetry import trace

from authhooks._redact import SubjectRecorder
from authhooks.config import Settings
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.telemetry.faults import fault_type, hook_error_type
from authhooks.telemetry.tracing import flow_span_context

__all__ = ["GENESIS", "AuditObserver", "canonical_json", "record_hash"]

GENESIS: Final = "0" * 64
"""The ``prev`` of the first record."""

_TAIL_BLOCK = 65536

Record = dict[str, Any]


def canonical_json(record: Record) -> bytes:
    """The canonical encoding of a record: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def record_hash(record: Record) -> str:
    """SHA-256 hex of the canonical JSON of ``record`` without its ``hash`` member."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _last_record(path: Path) -> tuple[Record | None, bool]:
    """The last parseable record of ``path`` and whether the file ends with a line break."""
    size = path.stat().st_size
    if size == 0:
        return None, True
    with path.open("rb") as f:
        f.seek(size - 1)
        ends_with_newline = f.read(1) == b"\n"
        block = min(size, _TAIL_BLOCK)
        while True:
            f.seek(size - block)
            lines = f.read(block).split(b"\n")
            complete = lines if block == size else lines[1:]  # the first piece may be a partial line
            for raw in reversed(complete):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("seq"), int) and "hash" in record:
                    return record, ends_with_newline
            if block == size:
                return None, ends_with_newline
            block = min(size, block * 4)


class AuditObserver:
    """Appends hash-chained audit records for flows and hook runs (see the module docstring).

    Args:
        path: the JSONL file (created with its parent directory if missing, resumed if present).
        settings: for ``record_subject`` / ``record_subject_hashed``; default ``Settings()`` (no subject).
        fsync: ``"close"`` (default) or ``"always"``.
        event_prefix: hook names starting with it are declarative handler actions, audited as ``event`` records.
        subject_key: HMAC key for ``record_subject_hashed`` (default: the per-process key of
            :mod:`authhooks._redact`, so telemetry and audit hashes match within a process).

    Use one instance per file; it is thread-safe. Register it with the engine as an observer, and call
    :meth:`close` at shutdown (also a context manager).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        settings: Settings | None = None,
        *,
        fsync: Literal["close", "always"] = "close",
        event_prefix: str = "handler:",
        subject_key: bytes | None = None,
    ) -> None:
        if fsync not in ("close", "always"):
            raise ValueError(f"fsync must be 'close' or 'always', not {fsync!r}")
        settings = settings if settings is not None else Settings()
        self.path = Path(path)
        self._fsync_always = fsync == "always"
        self._event_prefix = event_prefix
        self._subject = SubjectRecorder(settings.record_subject, settings.record_subject_hashed, key=subject_key)
        self._subject_key = "subject_hash" if self._subject.mode == "hashed" else "subject"
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        last, ends_with_newline = _last_record(self.path) if self.path.exists() else (None, True)
        self._seq: int = int(last["seq"]) if last is not None else 0
        self._prev: str = str(last["hash"]) if last is not None else GENESIS
        self._file = self.path.open("ab")
        if not ends_with_newline:
            self._file.write(b"\n")
            self._file.flush()

    def __repr__(self) -> str:
        return f"AuditObserver(path={str(self.path)!r}, seq={self._seq})"

    @property
    def last_hash(self) -> str:
        """The ``hash`` of the last record written (``GENESIS`` for an empty log): an anchor worth keeping."""
        return self._prev

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, kind: str, fields: dict[str, Any]) -> Record:
        """Append one record of ``kind`` with ``fields`` (JSON values; ``seq``, ``time``, ``kind``, ``prev`` and
        ``hash`` are set here) and return it. Raises ``ValueError`` once closed."""
        with self._lock:
            if self._file.closed:
                raise ValueError("the audit log is closed")
            record: Record = dict(fields)
            record.update(seq=self._seq + 1, time=_now(), kind=kind, prev=self._prev)
            record["hash"] = record_hash(record)
            self._file.write(canonical_json(record) + b"\n")
            self._file.flush()
            if self._fsync_always:
                os.fsync(self._file.fileno())
            self._seq += 1
            self._prev = record["hash"]
        return record

    def close(self) -> None:
        """Flush, fsync and close the file; idempotent."""
        with self._lock:
            if self._file.closed:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> AuditObserver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Observer --------------------------------------------------------------------------------------------

    def flow_started(self, run: FlowRun) -> None:
        """Remember the current span context, in case no telemetry observer records the flow span."""
        run.state[self] = trace.get_current_span().get_span_context()

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Write ``event`` records for handler actions and ``hook`` records for background runs."""
        is_event = record.hook.startswith(self._event_prefix)
        if is_event or record.background:
            fields = self._context(run)
            fields["hook"] = _hook_entry(record)
            self.append("event" if is_event else "hook", fields)

    def flow_ended(self, run: FlowRun) -> None:
        """Write the ``flow`` record: outcome, reason, fault type, duration and the hook decisions."""
        fields = self._context(run)
        fields.update(
            outcome=run.outcome.value,
            reason=run.reason,
            error_type=fault_type(run),
            duration_ms=round(run.duration * 1000.0, 3),
            hooks=[_hook_entry(r) for r in list(run.hooks) if not r.background],
        )
        subject = self._subject.value(run.subject)
        if subject is not None:
            fields[self._subject_key] = subject
        self.append("flow", fields)

    def _context(self, run: FlowRun) -> Record:
        span_context = flow_span_context(run) or run.state.get(self)
        fields: Record = {"flow": str(run.flow)}
        if isinstance(span_context, trace.SpanContext) and span_context.is_valid:
            fields["trace_id"] = trace.format_trace_id(span_context.trace_id)
            fields["span_id"] = trace.format_span_id(span_context.span_id)
        return fields


def _hook_entry(record: HookRecord) -> Record:
    entry: Record = {
        "hook": record.hook,
        "point": record.point,
        "decision": record.decision.value,
        "enforced": record.enforced,
        "duration_ms": round(record.duration * 1000.0, 3),
    }
    if record.reason is not None:
        entry["reason"] = record.reason
    error_type = hook_error_type(record)
    if error_type is not None:
        entry["error_type"] = error_type
    if record.background:
        entry["background"] = True
    return entry
