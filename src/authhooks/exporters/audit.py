"""The audit log: a keyed hash-chained JSONL file with one record per decision, and a signed checkpoint.

Each line is one JSON object (canonical form: sorted keys, no spaces, UTF-8)::

    {"flow":"login","hooks":[{"decision":"continue","hook":"rate_limit",…}],"kind":"flow","mac":"…",
     "outcome":"success","prev":"…","reason":null,"seq":7,"span_id":"…","time":"2026-…Z","trace_id":"…",…}

- ``seq`` counts from 1; ``mac`` is the HMAC-SHA256 (hex), under the audit key, of the canonical JSON of the
  record without ``mac``; ``prev`` is the ``mac`` of the previous record, or for the first record the log's
  *genesis*: 64 random hex digits drawn when the log is created. Editing, forging, removing or reordering a record
  therefore breaks the chain, and without the key nobody can re-chain it.
- The checkpoint ``<file>.checkpoint`` (mode 0600) is one JSON object padded to 512 bytes, overwritten in place
  after every record: ``seq`` and ``head`` (the count and the ``mac`` of the last record), the log's ``genesis``, a
  ``key_id`` (a fingerprint of the key, never the key) and its own ``mac``. It is what makes removing the *last*
  records detectable; see :mod:`~authhooks.exporters.audit_verify` for what is and is not detected.
- ``kind`` is ``flow`` (one per ended flow, with its hook decisions in order), ``hook`` (a background hook run,
  reported after its flow ended) or ``event`` (a declarative handler action that ran — a hook whose name starts
  with ``event_prefix`` and whose conditions held — also listed in its flow's record; or a record appended with
  :meth:`AuditObserver.append`). ``run``, 16 random hex digits drawn when the flow starts, is the same in a flow's
  record and in the ``event`` and ``hook`` records of its run: the link between them.
- Records carry flow, outcome, reason, ``error_type`` (faults only), duration, hook decisions, ``trace_id`` and
  ``span_id`` of the flow span (when one was recorded), never inputs, tokens or headers; the subject only under
  ``record_subject`` (``subject``) or ``record_subject_hashed`` (``subject_hash``), as in telemetry.

The key is ``AUTHHOOKS_AUDIT_KEY`` (at least 32 bytes) or, unset, ``state_dir/audit-key``: 32 random bytes as hex,
created on first use with mode 0600 and announced once with a warning naming the path.

Writing: records are appended under a thread lock and an exclusive ``flock`` of the file, each with one
``write`` to a file opened in append mode, flushed at once (a crashed process loses nothing it reported), then the
checkpoint is replaced, still under the lock. Several processes (gunicorn workers) may therefore share one file:
a writer that finds the file grown re-reads its last record and continues that chain. ``fsync="always"`` also
syncs the file and the checkpoint after every record (survives power loss, costs disk round trips
per flow); the default ``fsync="close"`` syncs on :meth:`AuditObserver.close` only, so a power loss can leave the
checkpoint ahead of the file, which ``verify`` reports as removed records.

Opening an existing log resumes it, but only if it is consistent: a log without its checkpoint, a checkpoint
made with another key or counting more records than the file holds, a last record whose ``mac`` is wrong, or an
unkeyed log of an earlier version each raise :class:`~authhooks.errors.ConfigurationError` (re-signing such a log
would hide the tampering). A torn last line (a crash mid-write) is left in place, after a line break, for the
verifier to report.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Literal

from opentelemetry import trace

from authhooks._files import key_file
from authhooks._redact import SubjectRecorder
from authhooks.config import Secret, Settings
from authhooks.errors import ConfigurationError
from authhooks.events import Decision
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.telemetry.faults import fault_type, hook_error_type
from authhooks.telemetry.tracing import flow_span_context

if sys.platform != "win32":
    import fcntl

__all__ = [
    "AUDIT_KEY_FILENAME",
    "GENESIS",
    "AuditObserver",
    "Checkpoint",
    "CheckpointError",
    "audit_key",
    "canonical_json",
    "checkpoint_path",
    "key_id",
    "mac_matches",
    "read_audit_key_file",
    "read_checkpoint",
    "record_mac",
]

logger = logging.getLogger("authhooks")

GENESIS: Final = "0" * 64
"""The ``prev`` of the first record of an unkeyed log written by earlier versions (keyed logs draw their own)."""

AUDIT_KEY_FILENAME: Final = "audit-key"
"""The generated key's file name in ``state_dir``."""

MIN_KEY_BYTES: Final = 32

_RECORD_DOMAIN: Final = b"authhooks.audit.record.v1\n"
_CHECKPOINT_DOMAIN: Final = b"authhooks.audit.checkpoint.v1\n"
_KEY_ID_DOMAIN: Final = b"authhooks.audit.key-id.v1"
_TAIL_BLOCK = 65536
_CHECKPOINT_SIZE = 512

Record = dict[str, Any]


def canonical_json(record: Record) -> bytes:
    """The canonical encoding of a record: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes, domain: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 state that has absorbed ``domain``; copying it costs less than a new HMAC (OpenSSL 3 looks
    the digest up on every ``hmac.digest``)."""
    return hmac.new(key, domain, hashlib.sha256)


def _hmac_hex(key: bytes, domain: bytes, message: bytes) -> str:
    state = _keyed(key, domain).copy()
    state.update(message)
    return state.hexdigest()


def record_mac(key: bytes, record: Record) -> str:
    """HMAC-SHA256 hex, under ``key``, of the canonical JSON of ``record`` without its ``mac`` member."""
    body = {k: v for k, v in record.items() if k != "mac"}
    return _hmac_hex(key, _RECORD_DOMAIN, canonical_json(body))


def mac_matches(key: bytes, record: Record) -> bool:
    """Whether ``record["mac"]`` is its :func:`record_mac` under ``key`` (in constant time; any other value,
    including a non-ASCII string from a hostile file, is simply a mismatch)."""
    return _equal(record_mac(key, record), record.get("mac"))


def _equal(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def key_id(key: bytes) -> str:
    """A fingerprint of ``key`` (16 hex digits of an HMAC under it): names the key without revealing it."""
    return _hmac_hex(key, _KEY_ID_DOMAIN, b"")[:16]


# -- the key -----------------------------------------------------------------------------------------------


def _checked_key(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"{where}: the audit key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def read_audit_key_file(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``: its bytes without surrounding whitespace (so ``AUTHHOOKS_AUDIT_KEY=$(cat FILE)``
    names the same key).

    Raises:
        ConfigurationError: the file cannot be read or holds fewer than 32 bytes.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"audit key file {path}: cannot read it ({exc.strerror})") from None
    return _checked_key(data.strip(), f"audit key file {path}")


def _load_or_create_key(state_dir: Path) -> bytes:
    path = state_dir / AUDIT_KEY_FILENAME
    key, created = key_file(path, read_audit_key_file)
    if created:
        logger.warning(
            "authhooks: no audit key configured; generated one at %s (mode 0600). Verify the log with "
            "`authhooks audit verify FILE --key-file %s`. Whoever can read this key can forge the log: set "
            "AUTHHOOKS_AUDIT_KEY from a secret store, or keep the file out of the log writers' reach",
            path,
            path,
        )
    return key


def audit_key(settings: Settings, key: bytes | str | Secret | None = None) -> bytes:
    """The audit key: ``key`` if given, else ``settings.audit_key``, else ``state_dir/audit-key`` (created with
    mode 0600 on first use, with a warning naming the path).

    Raises:
        ConfigurationError: the key is shorter than 32 bytes, or the key file cannot be read or written.
    """
    if key is not None:
        raw = bytes(key) if isinstance(key, Secret) else key.encode("utf-8") if isinstance(key, str) else key
        return _checked_key(raw, "audit key")
    if settings.audit_key is not None:
        return _checked_key(bytes(settings.audit_key), "AUTHHOOKS_AUDIT_KEY")
    return _load_or_create_key(settings.state_dir)


# -- the checkpoint ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What the signed checkpoint vouches for.

    Attributes:
        seq: how many records the log held (the ``seq`` of its last record; 0 for an empty log).
        head: the ``mac`` of record ``seq`` (the genesis when ``seq`` is 0).
        genesis: the ``prev`` of the log's first record.
        key_id: :func:`key_id` of the key that signed it.
        time: when it was written.
    """

    seq: int
    head: str
    genesis: str
    key_id: str
    time: str


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted; ``kind`` is ``checkpoint_invalid`` or ``wrong_key``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """The checkpoint of the log at ``path``: ``<path>.checkpoint``."""
    path = Path(path)
    return path.with_name(path.name + ".checkpoint")


def read_checkpoint(path: str | os.PathLike[str], key: bytes) -> Checkpoint:
    """Read and authenticate the checkpoint file at ``path``.

    Raises:
        FileNotFoundError: there is none.
        OSError: it cannot be read.
        CheckpointError: it is not a checkpoint, was made with another key, or its ``mac`` does not match.
    """
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or hostile nesting
        data = None
    fields = {"seq": int, "head": str, "genesis": str, "key_id": str, "time": str, "mac": str}
    if not isinstance(data, dict) or any(type(data.get(name)) is not tp for name, tp in fields.items()):
        raise CheckpointError("checkpoint_invalid", "not an audit checkpoint")
    if not _equal(key_id(key), data["key_id"]):
        raise CheckpointError(
            "wrong_key",
            f"the checkpoint was signed with key id {data['key_id']}, the key given has id {key_id(key)}: "
            "the wrong key, or a checkpoint from elsewhere",
        )
    body = {k: v for k, v in data.items() if k != "mac"}
    if not _equal(_checkpoint_mac(key, body), data["mac"]):
        raise CheckpointError("checkpoint_invalid", "the checkpoint's mac does not match: it was edited or forged")
    return Checkpoint(data["seq"], data["head"], data["genesis"], data["key_id"], data["time"])


def _checkpoint_mac(key: bytes, body: Record) -> str:
    return _hmac_hex(key, _CHECKPOINT_DOMAIN, canonical_json(body))


def _checkpoint_bytes(key: bytes, key_id: str, seq: int, head: str, genesis: str, time: str) -> bytes:
    """The canonical JSON of a checkpoint, formatted directly (every value is hex, an int or an ISO time: nothing
    to escape), padded to 512 bytes; equal to ``canonical_json`` of the same object (a test checks it)."""
    fixed = f'"genesis":"{genesis}","head":"{head}","key_id":"{key_id}"'
    rest = f'"seq":{seq:d},"time":"{time}"'
    mac = _hmac_hex(key, _CHECKPOINT_DOMAIN, f"{{{fixed},{rest}}}".encode("ascii"))
    return f'{{{fixed},"mac":"{mac}",{rest}}}'.encode("ascii").ljust(_CHECKPOINT_SIZE - 1) + b"\n"


def _write_checkpoint(path: Path, data: bytes, *, sync: bool) -> None:
    """Overwrite the checkpoint in place with one ``write`` of one padded 512-byte block.

    Not ``os.replace`` of a temporary file: on ext4 a rename over an existing file forces its data to disk and
    costs about 0.5 ms, per record. A write of one block at offset 0 is never seen half done by a reader (they
    hold the shared ``flock``) nor left half done by a crashing process; only a power loss during it could tear
    it, and ``verify`` reports that as an invalid checkpoint. A longer file put in its place keeps its tail
    until the next synced write, so ``verify`` reports it too.
    """
    created = sync and not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.ftruncate(fd, len(data))
            os.fsync(fd)
    finally:
        os.close(fd)
    if created and sys.platform != "win32":
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# -- reading the tail --------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _last_record(path: Path) -> tuple[Record | None, bool]:
    """The last parseable record of ``path`` (keyed, or unkeyed legacy) and whether the file ends with a line
    break."""
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
                except (ValueError, RecursionError):
                    continue
                if (
                    isinstance(record, dict)
                    and type(record.get("seq")) is int
                    and ("mac" in record or "hash" in record)
                ):
                    return record, ends_with_newline
            if block == size:
                return None, ends_with_newline
            block = min(size, block * 4)


@contextlib.contextmanager
def _flocked(fd: int) -> Iterator[None]:
    """An exclusive ``flock`` of the log, shared by every process that writes it (nothing on Windows)."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class AuditObserver:
    """Appends keyed, hash-chained audit records for flows and hook runs (see the module docstring).

    Args:
        path: the JSONL file (created with its parent directory if missing, resumed if present).
        settings: for ``audit_key``, ``state_dir`` (the generated key), ``record_subject`` and
            ``record_subject_hashed``; default ``Settings()``.
        key: the audit key (wins over ``settings.audit_key``); at least 32 bytes.
        fsync: ``"close"`` (default) or ``"always"``.
        event_prefix: hook names starting with it are declarative handler actions, audited as ``event`` records.
        subject_key: HMAC key for ``record_subject_hashed`` (default: the per-process key of
            :mod:`authhooks._redact`, so telemetry and audit hashes match within a process).

    Raises:
        ConfigurationError: no usable key, or an existing log that cannot be resumed without hiding tampering
            (no checkpoint, another key's checkpoint, fewer records than the checkpoint counts, a last record
            whose ``mac`` is wrong, an unkeyed log of an earlier version).

    Use one instance per file and process; it is thread-safe, and several processes may share the file. Register
    it with the engine as an observer, and call :meth:`close` at shutdown (also a context manager).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        settings: Settings | None = None,
        *,
        key: bytes | str | Secret | None = None,
        fsync: Literal["close", "always"] = "close",
        event_prefix: str = "handler:",
        subject_key: bytes | None = None,
    ) -> None:
        if fsync not in ("close", "always"):
            raise ValueError(f"fsync must be 'close' or 'always', not {fsync!r}")
        settings = settings if settings is not None else Settings()
        self.path = Path(path)
        self.checkpoint_path = checkpoint_path(self.path)
        self._key = audit_key(settings, key)
        self._key_id = key_id(self._key)
        self._fsync_always = fsync == "always"
        self._event_prefix = event_prefix
        self._subject = SubjectRecorder(settings.record_subject, settings.record_subject_hashed, key=subject_key)
        self._subject_key = "subject_hash" if self._subject.mode == "hashed" else "subject"
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")
        self._seq = 0
        self._prev = self._genesis = ""
        self._size = 0
        self._needs_newline = False
        try:
            with _flocked(self._file.fileno()):
                self._resume()
        except BaseException:
            self._file.close()
            raise

    def __repr__(self) -> str:
        return f"AuditObserver(path={str(self.path)!r}, seq={self._seq})"

    @property
    def last_mac(self) -> str:
        """The ``mac`` of the last record written (the genesis for an empty log): an anchor worth keeping."""
        return self._prev

    def _refuse(self, problem: str) -> ConfigurationError:
        return ConfigurationError(
            f"audit log {self.path}: {problem}; appending would hide it. Run `authhooks audit verify {self.path}`, "
            "then move the log and its checkpoint aside to start a new one"
        )

    def _resume(self) -> None:
        """Continue the chain of an existing log (under the flock), after checking it against its checkpoint."""
        self._size = os.fstat(self._file.fileno()).st_size
        try:
            checkpoint: Checkpoint | None = read_checkpoint(self.checkpoint_path, self._key)
        except FileNotFoundError:
            checkpoint = None
        except CheckpointError as exc:
            raise self._refuse(f"{self.checkpoint_path}: {exc}") from None
        last, ends_with_newline = _last_record(self.path) if self._size else (None, True)
        if last is not None and "mac" not in last:
            raise ConfigurationError(
                f"audit log {self.path} is an unkeyed hash chain written by an earlier authhooks; it cannot be "
                "continued with a key. Move it aside (it can no longer be verified) and start a new log"
            )
        if checkpoint is None:
            if last is not None:
                raise self._refuse(f"its checkpoint {self.checkpoint_path} is missing")
            self._genesis = self._prev = secrets.token_hex(32)
            self._checkpoint(sync=True)
        elif last is None:
            if checkpoint.seq != 0:
                raise self._refuse(f"the checkpoint counts {checkpoint.seq} records, the file holds none")
            self._genesis = self._prev = checkpoint.genesis
        else:
            if not mac_matches(self._key, last):
                raise self._refuse(f"its last record (seq {last['seq']}) has a wrong mac")
            seq = int(last["seq"])
            if seq < checkpoint.seq:
                raise self._refuse(f"the checkpoint counts {checkpoint.seq} records, the file ends at seq {seq}")
            head = last["mac"] if seq == checkpoint.seq else last["prev"] if seq == checkpoint.seq + 1 else None
            if head is not None and head != checkpoint.head:
                raise self._refuse(f"record seq {checkpoint.seq} is not the one its checkpoint signed")
            self._genesis, self._seq, self._prev = checkpoint.genesis, seq, str(last["mac"])
            if seq != checkpoint.seq:
                self._checkpoint(sync=True)
        self._needs_newline = not ends_with_newline

    # -- writing ---------------------------------------------------------------------------------------------

    def _catch_up(self) -> None:
        """Under the flock: when the file grew since our last write (another process), continue its chain."""
        size = os.fstat(self._file.fileno()).st_size
        if size == self._size:
            return
        last, ends_with_newline = _last_record(self.path)
        self._needs_newline = not ends_with_newline
        self._size = size
        # Adopt only an authentic record further along the chain: never chain onto a forgery, never step back.
        if last is not None and "mac" in last and int(last["seq"]) > self._seq and mac_matches(self._key, last):
            self._seq, self._prev = int(last["seq"]), str(last["mac"])

    def _checkpoint(self, *, sync: bool, time: str | None = None) -> None:
        data = _checkpoint_bytes(self._key, self._key_id, self._seq, self._prev, self._genesis, time or _now())
        _write_checkpoint(self.checkpoint_path, data, sync=sync or self._fsync_always)

    def append(self, kind: str, fields: dict[str, Any]) -> Record:
        """Append one record of ``kind`` with ``fields`` (JSON values; ``seq``, ``time``, ``kind``, ``prev`` and
        ``mac`` are set here), update the checkpoint, and return the record. Raises ``ValueError`` once closed."""
        with self._lock:
            if self._file.closed:
                raise ValueError("the audit log is closed")
            record: Record = dict(fields)
            with _flocked(self._file.fileno()):
                self._catch_up()
                record.update(seq=self._seq + 1, time=_now(), kind=kind, prev=self._prev)
                record["mac"] = record_mac(self._key, record)
                line = canonical_json(record) + b"\n"
                if self._needs_newline:
                    line = b"\n" + line
                    self._needs_newline = False
                self._file.write(line)
                self._file.flush()
                if self._fsync_always:
                    os.fsync(self._file.fileno())
                self._size += len(line)
                self._seq += 1
                self._prev = record["mac"]
                self._checkpoint(sync=False, time=record["time"])
        return record

    def close(self) -> None:
        """Flush and fsync the file and the checkpoint, and close the file; idempotent."""
        with self._lock:
            if self._file.closed:
                return
            try:
                with _flocked(self._file.fileno()):
                    self._file.flush()
                    os.fsync(self._file.fileno())
                    self._catch_up()
                    self._checkpoint(sync=True)
            finally:
                self._file.close()

    def __enter__(self) -> AuditObserver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Observer --------------------------------------------------------------------------------------------

    def flow_started(self, run: FlowRun) -> None:
        """Remember the current span context, in case no telemetry observer records the flow span, and draw the
        run's id (``run`` in every record of the run: its ``flow`` record and its ``event``/``hook`` records)."""
        run.state[self] = trace.get_current_span().get_span_context()
        run.state[(self, "run")] = secrets.token_hex(8)

    def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
        """Write ``event`` records for handler actions that ran (not those whose conditions were false) and
        ``hook`` records for background runs."""
        is_event = record.hook.startswith(self._event_prefix) and record.decision is not Decision.SKIPPED
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
        run_id = run.state.get((self, "run"))
        if run_id is not None:
            fields["run"] = run_id
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
