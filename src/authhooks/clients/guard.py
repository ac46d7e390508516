"""What keeps client authentication from being a cheap denial of service.

A failed client authentication costs one PBKDF2 derivation (~0.1 s of CPU at 600 000 iterations, RFC 8018 §5.2;
OWASP Password Storage Cheat Sheet), and any caller can send ``Authorization: Basic`` with made-up credentials to
the introspection and revocation endpoints. Unbounded, a few hundred requests a second keep every core busy and
fill the thread pool the rest of the application relies on. Two bounds:

- :class:`HashGate`: the PBKDF2 work runs on a small executor of its own (``workers`` threads, default 1) and at
  most ``queue`` more derivations wait for it; a request beyond that is refused at once with
  :class:`ClientAuthBusy` (429 ``Retry-After: 1``, RFC 6585 §4) instead of queueing. The async path
  (:meth:`ClientRegistry.authenticate_async`) holds no thread of the default pool while it waits.
- :class:`FailureMemo`: the last :data:`FAILURE_MEMO_SIZE` failed (client id, secret) pairs, each kept as an
  HMAC-SHA256 under a random per-process key (never the secret), answer a repeat with 401 without a derivation;
  unknown and known client ids are remembered alike, so timing still tells no id apart.

A client whose secret verified once is answered from its remembered HMAC tag without a derivation either
(:class:`~authhooks.clients.ClientRegistry`), so neither bound slows a working resource server down: only first
verifications and failures ever wait for the gate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from authhooks.errors import Deny

__all__ = ["FAILURE_MEMO_SIZE", "ClientAuthBusy", "FailureMemo", "HashGate"]

T = TypeVar("T")

FAILURE_MEMO_SIZE = 4096
"""How many failed (client id, secret) pairs :class:`FailureMemo` remembers (least recently seen dropped)."""


class ClientAuthBusy(Deny):
    """Too many client authentications are being checked at once: 429 with ``Retry-After: 1`` (RFC 6585 §4)."""

    error = "temporarily_unavailable"
    status = 429
    default_reason = "client_auth_busy"
    default_description = "Too many client authentications at once; retry shortly."

    def __init__(self) -> None:
        super().__init__(429, self.default_reason, {"Retry-After": "1"})


class HashGate:
    """Runs secret derivations on ``workers`` threads of its own, with at most ``queue`` more waiting.

    Args:
        workers: derivations at once (threads of the gate's executor, started on first use).
        queue: derivations that may wait for a worker; one more is :class:`ClientAuthBusy`.
    """

    __slots__ = ("_executor", "_limit", "_lock", "_pending", "_workers")

    def __init__(self, workers: int = 1, queue: int = 4) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be at least 1 and queue at least 0")
        self._workers = workers
        self._limit = workers + queue
        self._pending = 0
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Derivations running or waiting now."""
        return self._pending

    def _submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._pending >= self._limit:
                raise ClientAuthBusy()
            self._pending += 1
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self._workers, thread_name_prefix="authhooks-client-secret"
                )
            executor = self._executor
        try:
            future = executor.submit(fn)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)  # released when the work ends, even if the caller stopped waiting
        return future

    def _done(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the gate, blocking the caller until it is done.

        Raises:
            ClientAuthBusy: ``workers + queue`` derivations are already running or waiting.
        """
        return self._submit(fn).result()

    async def run_async(self, fn: Callable[[], T]) -> T:
        """Await ``fn`` run on the gate (no thread of the caller's pool waits).

        Raises:
            ClientAuthBusy: ``workers + queue`` derivations are already running or waiting.
        """
        return await asyncio.wrap_future(self._submit(fn))

    def close(self) -> None:
        """Stop the executor (running derivations finish)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


class FailureMemo:
    """The recently failed (client id, secret) pairs, as keyed hashes, bounded to ``size`` entries."""

    __slots__ = ("_key", "_lock", "_seen", "_size")

    def __init__(self, size: int = FAILURE_MEMO_SIZE) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _tag(self, client_id: str, secret: bytes) -> bytes:
        message = client_id.encode("utf-8", "surrogatepass") + b"\x00" + secret
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def failed_before(self, client_id: str, secret: bytes) -> bool:
        """Whether this pair failed recently (it is then kept as the most recent)."""
        tag = self._tag(client_id, secret)
        with self._lock:
            if tag in self._seen:
                self._seen.move_to_end(tag)
                return True
        return False

    def remember(self, client_id: str, secret: bytes) -> None:
        """Remember a failed pair (the least recently seen one goes when full)."""
        tag = self._tag(client_id, secret)
        with self._lock:
            self._seen[tag] = None
            self._seen.move_to_end(tag)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
