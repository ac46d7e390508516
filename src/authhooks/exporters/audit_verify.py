"""Checking an audit log: ``authhooks audit verify FILE``.

:func:`verify_audit_log` reads the checkpoint and the whole file under a shared ``flock`` (so a live writer
cannot be caught between its two writes) and reports every problem, each with its line number (``None`` for the
checkpoint), the record's ``seq`` (when readable) and a kind:

======================= =================================================================================
kind                    meaning
======================= =================================================================================
``edited``              the record's ``mac`` does not match its content under the key: it was changed,
                        forged without the key (a recomputed SHA-256 chain, say), or the key is wrong
``broken_chain``        the record's ``prev`` is not the ``mac`` of record ``seq - 1`` (for the first
                        record: not the genesis of the checkpoint): records were re-chained or replaced
``removed``             records are missing: ``seq`` jumps and the missing numbers are nowhere in the file
``reordered``           the record is out of place: its ``seq`` is out of order and the file holds the
                        missing ones
``duplicated``          a ``seq`` appears twice
``truncated``           the last line is cut short (no line break, not valid JSON): a torn write or a cut
``garbled``             a line is not a JSON record with ``seq``, ``prev`` and ``mac``
``unkeyed``             an unkeyed SHA-256 record of an earlier authhooks: it cannot be verified
``tail_removed``        the checkpoint counts more records than the file holds: the end was cut off
``checkpoint_missing``  there is no checkpoint: truncation cannot be ruled out
``checkpoint_invalid``  the checkpoint is unreadable, or its ``mac`` does not match
``checkpoint_mismatch`` the checkpoint signed another record at its ``seq``, or another log's genesis
``wrong_key``           the checkpoint names another key: the wrong key was given (or it is another
                        log's checkpoint)
======================= =================================================================================

Detected, by anyone holding the key: an edited, forged, inserted, removed, reordered, duplicated or re-chained
record; removed last records, up to the record the checkpoint covers; a deleted, forged or foreign checkpoint.
Not detected: anything done by someone who holds the key (they can rewrite both files); deleting the file and its
checkpoint together (``verify`` then cannot read the file); putting back an older copy of both (a rollback);
records written after the checkpoint's last update (at most one, after a crash between the two writes; or after
a power loss with ``fsync="close"``). Keep the reported last ``mac`` elsewhere when rollback matters.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authhooks.errors import ConfigurationError
from authhooks.exporters.audit import (
    AUDIT_KEY_FILENAME,
    Checkpoint,
    CheckpointError,
    audit_key,
    checkpoint_path,
    mac_matches,
    read_audit_key_file,
    read_checkpoint,
)

if sys.platform != "win32":
    import fcntl

__all__ = ["AuditProblem", "AuditReport", "audit_verify_main", "verify_audit_log"]


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One thing wrong with an audit log.

    Attributes:
        line: 1-based line number, or ``None`` for a problem found through the checkpoint.
        seq: the record's ``seq``, or ``None`` when the line could not be read.
        kind: see the module docstring.
        detail: a human-readable explanation.
    """

    line: int | None
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = "the checkpoint" if self.line is None else f"line {self.line}"
        where += f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.kind} at {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The result of :func:`verify_audit_log`.

    Attributes:
        path: the file checked.
        records: readable records.
        problems: every problem found: ``wrong_key`` first, then the records' in file order, then the others
            found through the checkpoint.
        last_seq: the highest ``seq`` read (0 for an empty log).
        last_mac: the ``mac`` of the last readable record (``""`` for an empty log).
        checkpoint_seq: the ``seq`` the checkpoint covers, or ``None`` without a trustworthy checkpoint.
    """

    path: str
    records: int
    problems: tuple[AuditProblem, ...]
    last_seq: int
    last_mac: str
    checkpoint_seq: int | None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def unkeyed(self) -> bool:
        """True for a log of unkeyed records of an earlier authhooks (it cannot be verified)."""
        return bool(self.problems) and self.problems[0].kind == "unkeyed"

    def verdict(self) -> str:
        """A one-line summary."""
        if self.ok:
            uncovered = self.last_seq - (self.checkpoint_seq or 0)
            note = f"; {uncovered} record{'s' if uncovered > 1 else ''} after the checkpoint" if uncovered else ""
            return (
                f"OK {self.path}: {self.records} records, chain and checkpoint intact "
                f"(last seq {self.last_seq}, mac {self.last_mac[:16]}{note})"
            )
        if self.unkeyed:
            return (
                f"UNKEYED {self.path}: an unkeyed SHA-256 chain written by an earlier authhooks; it cannot be "
                "verified (anyone who could write the file could have re-chained it)"
            )
        more = len(self.problems) - 1
        tail = f" (+{more} more problem{'s' if more > 1 else ''})" if more else ""
        return f"TAMPERED {self.path}: {self.problems[0]}{tail}"


def _read(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or hostile nesting
        return None
    if (
        isinstance(record, dict)
        and type(record.get("seq")) is int
        and isinstance(record.get("prev"), str)
        and (isinstance(record.get("mac"), str) or isinstance(record.get("hash"), str))
    ):
        return record
    return None


@contextlib.contextmanager
def _shared_lock(path: Path) -> Iterator[None]:
    """A shared ``flock`` of the log while the checkpoint and the file are read (writers hold it exclusively)."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield  # reading the file will raise the error
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _checkpoint(path: Path, key: bytes) -> tuple[Checkpoint | None, AuditProblem | None]:
    try:
        return read_checkpoint(path, key), None
    except FileNotFoundError:
        problem = AuditProblem(None, None, "checkpoint_missing", f"{path} is missing: truncation cannot be ruled out")
    except CheckpointError as exc:
        problem = AuditProblem(None, None, exc.kind, f"{path}: {exc}")
    except OSError as exc:
        problem = AuditProblem(None, None, "checkpoint_invalid", f"{path}: cannot read it ({exc.strerror})")
    return None, problem


def verify_audit_log(
    path: str | os.PathLike[str],
    key: bytes | str,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
) -> AuditReport:
    """Check the keyed chain of the audit log at ``path`` against its checkpoint (``<path>.checkpoint`` unless
    ``checkpoint`` names another file), with the audit ``key``. See the module docstring for what is reported.

    Raises:
        OSError: the log cannot be read.
    """
    key = key.encode("utf-8") if isinstance(key, str) else key
    log = Path(path)
    with _shared_lock(log):
        mark, mark_problem = _checkpoint(Path(checkpoint) if checkpoint else checkpoint_path(log), key)
        data = log.read_bytes()  # after the checkpoint: the file can only have grown since
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
    last_seq = max((record["seq"] for _, record in records), default=0)
    last_mac = str(records[-1][1].get("mac", "")) if records else ""

    if records and all("mac" not in record for _, record in records) and mark is None:
        unkeyed = AuditProblem(records[0][0], records[0][1]["seq"], "unkeyed", "an unkeyed SHA-256 chain")
        return AuditReport(str(path), len(records), (unkeyed,), last_seq, last_mac, None)

    problems.extend(_record_problems(records, key, mark.genesis if mark is not None else None))
    problems.sort(key=lambda p: p.line or 0)
    if mark_problem is not None and mark_problem.kind == "wrong_key":
        problems.insert(0, mark_problem)  # it explains every mismatch after it
    elif mark_problem is not None:
        problems.append(mark_problem)
    if mark is not None:
        problems.extend(_checkpoint_problems(mark, records, last_seq))
    return AuditReport(
        str(path), len(records), tuple(problems), last_seq, last_mac, mark.seq if mark is not None else None
    )


def _record_problems(
    records: list[tuple[int, dict[str, Any]]], key: bytes, genesis: str | None
) -> Iterator[AuditProblem]:
    by_seq: dict[int, dict[str, Any]] = {}
    for _, record in records:
        by_seq.setdefault(record["seq"], record)
    last_position = {record["seq"]: index for index, (_, record) in enumerate(records)}
    seen: set[int] = set()
    last = 0
    for index, (number, record) in enumerate(records):
        seq: int = record["seq"]
        if "mac" not in record:
            yield AuditProblem(number, seq, "unkeyed", "an unkeyed SHA-256 record among keyed ones")
        elif not mac_matches(key, record):
            yield AuditProblem(number, seq, "edited", "the mac does not match the record: edited, forged, or wrong key")
        if seq == 1:
            expected_prev = genesis
        else:
            previous = by_seq.get(seq - 1)
            expected_prev = None if previous is None else str(previous.get("mac", previous.get("hash")))
        if expected_prev is not None and record["prev"] != expected_prev:
            what = "the genesis of the checkpoint" if seq == 1 else f"the mac of record seq {seq - 1}"
            yield AuditProblem(number, seq, "broken_chain", f"prev is not {what}: re-chained or replaced")
        if seq in seen:
            yield AuditProblem(number, seq, "duplicated", f"seq {seq} appears earlier in the file")
        elif seq > last + 1:
            missing = range(last + 1, seq)
            if any(last_position.get(m, -1) > index for m in missing):
                yield AuditProblem(number, seq, "reordered", f"seq {seq} comes before seq {last + 1}")
            else:
                span = f"seq {last + 1}" if len(missing) == 1 else f"seq {last + 1}-{seq - 1}"
                yield AuditProblem(number, seq, "removed", f"{span} missing before this record")
        elif seq <= last:
            yield AuditProblem(number, seq, "reordered", f"seq {seq} comes after seq {last}")
        seen.add(seq)
        last = max(last, seq)


def _checkpoint_problems(
    mark: Checkpoint, records: list[tuple[int, dict[str, Any]]], last_seq: int
) -> Iterator[AuditProblem]:
    if mark.seq > last_seq:
        span = f"seq {last_seq + 1}" if mark.seq == last_seq + 1 else f"seq {last_seq + 1}-{mark.seq}"
        yield AuditProblem(
            None,
            mark.seq,
            "tail_removed",
            f"it counts {mark.seq} records, the file ends at seq {last_seq}: {span} removed",
        )
        return
    if mark.seq == 0:
        return  # an empty log's checkpoint; the first record's prev was checked against its genesis
    covered = next((record for _, record in records if record["seq"] == mark.seq), None)
    if covered is not None and covered.get("mac") != mark.head:
        yield AuditProblem(
            None, mark.seq, "checkpoint_mismatch", f"record seq {mark.seq} is not the one the checkpoint signed"
        )


# -- the command -------------------------------------------------------------------------------------------


def _key(key_file: str | None, environ: Mapping[str, str] | None) -> bytes | None:
    if key_file is not None:
        return read_audit_key_file(key_file)
    from authhooks.config import Settings

    settings = Settings.from_env(environ)
    return audit_key(settings) if settings.audit_key is not None else None


def audit_verify_main(
    path: str,
    *,
    key_file: str | None = None,
    checkpoint: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Verify ``path`` with the key of ``key_file`` or, without one, ``AUTHHOOKS_AUDIT_KEY``; print a one-line
    verdict (problems after it, one per line, when there are several).

    Returns:
        0 when the chain and the checkpoint are intact, 1 when they are not (or the log is an unkeyed legacy
        chain), 2 when no key is given, the key or the log cannot be read.
    """
    try:
        key = _key(key_file, environ)
    except ConfigurationError as exc:
        print(f"ERROR {path}: {exc}")
        return 2
    if key is None:
        print(
            f"ERROR {path}: no audit key: set AUTHHOOKS_AUDIT_KEY or pass --key-file (a key authhooks generated "
            f"is in its state directory, e.g. .authhooks/{AUDIT_KEY_FILENAME})"
        )
        return 2
    try:
        report = verify_audit_log(path, key, checkpoint=checkpoint)
    except OSError as exc:
        print(f"ERROR {path}: cannot read the audit log ({exc.strerror or type(exc).__name__})")
        return 2
    print(report.verdict())
    if len(report.problems) > 1:
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else 1
