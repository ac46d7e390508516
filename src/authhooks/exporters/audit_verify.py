"""Checking an audit log: ``authhooks audit verify FILE``.

:func:`verify_audit_log` reads the whole file and reports every problem, each with its line number, the record's
``seq`` (when readable) and a kind:

=================== =====================================================================================
kind                meaning
=================== =====================================================================================
``edited``          the record's ``hash`` does not match its content: it was changed after writing
``broken_chain``    the record's ``prev`` is not the ``hash`` of record ``seq - 1``: that record, or this
                    one, was altered and re-hashed (or replaced)
``removed``         records are missing: ``seq`` jumps and the missing numbers are nowhere in the file
``reordered``       the record is out of place: its ``seq`` is out of order and the file holds the missing ones
``duplicated``      a ``seq`` appears twice
``truncated``       the last line is cut short (no line break, not valid JSON): a torn write or truncation
``garbled``         a line is not a JSON record with ``seq``, ``prev`` and ``hash``
=================== =====================================================================================

Removing the last records is not detectable from the file alone; compare ``last_hash`` with a copy kept elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authhooks.exporters.audit import GENESIS, record_hash

__all__ = ["AuditProblem", "AuditReport", "audit_verify_main", "verify_audit_log"]


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One thing wrong with an audit log.

    Attributes:
        line: 1-based line number.
        seq: the record's ``seq``, or ``None`` when the line could not be read.
        kind: see the module docstring.
        detail: a human-readable explanation.
    """

    line: int
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The result of :func:`verify_audit_log`.

    Attributes:
        path: the file checked.
        records: readable records.
        problems: every problem found, in file order.
        last_seq: the highest ``seq`` read (0 for an empty log).
        last_hash: the ``hash`` of the last readable record (``GENESIS`` for an empty log).
    """

    path: str
    records: int
    problems: tuple[AuditProblem, ...]
    last_seq: int
    last_hash: str

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def verdict(self) -> str:
        """A one-line summary."""
        if self.ok:
            return (
                f"OK {self.path}: {self.records} records, chain intact "
                f"(last seq {self.last_seq}, hash {self.last_hash[:16]})"
            )
        more = len(self.problems) - 1
        tail = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
        return f"TAMPERED {self.path}: {self.problems[0]}{tail}"


def _read(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if (
        isinstance(record, dict)
        and type(record.get("seq")) is int
        and isinstance(record.get("prev"), str)
        and isinstance(record.get("hash"), str)
    ):
        return record
    return None


def verify_audit_log(path: str | os.PathLike[str]) -> AuditReport:
    """Check the hash chain of the audit log at ``path`` (see the module docstring for what is reported).

    Raises:
        OSError: the file cannot be read.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    ends_with_newline = data.endswith(b"\n")
    if ends_with_newline or not data:
        lines.pop()  # the empty piece after the final line break
    problems: list[AuditProblem] = []
    records: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(lines, 1):
        record = _read(raw)
        if record is not None:
            records.append((number, record))
        elif number == len(lines) and not ends_with_newline:
            problems.append(AuditProblem(number, None, "truncated", "the last line is incomplete"))
        else:
            problems.append(AuditProblem(number, None, "garbled", "not a JSON audit record"))

    by_seq: dict[int, dict[str, Any]] = {}
    for _, record in records:
        by_seq.setdefault(record["seq"], record)
    last_position = {record["seq"]: index for index, (_, record) in enumerate(records)}
    seen: set[int] = set()
    last = 0
    for index, (number, record) in enumerate(records):
        seq: int = record["seq"]
        if record_hash(record) != record["hash"]:
            problems.append(AuditProblem(number, seq, "edited", "the hash does not match the record's content"))
        expected_prev = GENESIS if seq == 1 else by_seq[seq - 1]["hash"] if seq - 1 in by_seq else None
        if expected_prev is not None and record["prev"] != expected_prev:
            problems.append(
                AuditProblem(
                    number,
                    seq,
                    "broken_chain",
                    f"prev is not the hash of record seq {seq - 1}: one of them was altered",
                )
            )
        if seq in seen:
            problems.append(AuditProblem(number, seq, "duplicated", f"seq {seq} appears earlier in the file"))
        elif seq > last + 1:
            missing = range(last + 1, seq)
            if any(last_position.get(m, -1) > index for m in missing):
                problems.append(AuditProblem(number, seq, "reordered", f"seq {seq} comes before seq {last + 1}"))
            else:
                span = f"seq {last + 1}" if len(missing) == 1 else f"seq {last + 1}-{seq - 1}"
                problems.append(AuditProblem(number, seq, "removed", f"{span} missing before this record"))
        elif seq <= last:
            problems.append(AuditProblem(number, seq, "reordered", f"seq {seq} comes after seq {last}"))
        seen.add(seq)
        last = max(last, seq)
    problems.sort(key=lambda p: p.line)
    last_hash = records[-1][1]["hash"] if records else GENESIS
    return AuditReport(str(path), len(records), tuple(problems), last, last_hash)


def audit_verify_main(path: str) -> int:
    """Verify ``path`` and print a one-line verdict (problems after it, one per line, when there are several).

    Returns:
        0 when the chain is intact, 1 when it is not, 2 when the file cannot be read.
    """
    try:
        report = verify_audit_log(path)
    except OSError as exc:
        print(f"ERROR {path}: cannot read the audit log ({exc.strerror or type(exc).__name__})")
        return 2
    print(report.verdict())
    if len(report.problems) > 1:
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else 1
