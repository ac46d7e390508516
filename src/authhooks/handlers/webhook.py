"""The ``webhook`` action: POST a signed event summary, with retries, a circuit breaker and trace context.

==================== ============================================================================================
option               meaning
==================== ============================================================================================
``url``              ``http://`` or ``https://`` URL (required)
``secret_env``       name of the environment variable holding the ``whsec_…`` secret (required; the file never
                     holds the secret); read at load: an unset variable is a load error
``timeout``          seconds per attempt (default 5); the handler's own ``timeout`` bounds all attempts
``retries``          attempts after the first (default 2): on a connection error, a timeout, 429 or 5xx
``backoff``          base delay in seconds (default 0.5): attempt *n* waits a random time in
                     ``[0, min(backoff_max, backoff·2ⁿ)]`` ("full jitter")
``backoff_max``      cap of one delay (default 10)
``breaker_failures`` failed deliveries in a row that open the target's breaker (default 5)
``breaker_cooldown`` how long it stays open before a half-open trial (default ``"30s"``)
``decision``         at a decision point, act on the receiver's JSON answer (default false): ``{"deny": {"status":
                     403, "reason": "..."}}`` denies, ``{"update": {...}}`` changes the inputs the point allows
``headers``          extra request headers (a table of strings; not ``webhook-*``, ``content-type``,
                     ``traceparent``)
==================== ============================================================================================

Each delivery is one message, signed by the Standard Webhooks scheme (:mod:`~authhooks.handlers.signing`):
``webhook-id`` (one id for every attempt of the message), ``webhook-timestamp`` and ``webhook-signature`` (fresh per
attempt). The body is ``{"type": <point>, "timestamp": <ISO-8601>, "data": <summary>}`` with the safe summary of
:mod:`~authhooks.handlers.summary`: never a token, secret, signature or password. W3C ``traceparent`` (and
``tracestate``) carry the current span context. Under the async driver the POST goes through
``httpx.AsyncClient`` on the event loop; under the sync driver through ``httpx.Client``.

A delivery fails — and the handler's ``on_error`` policy decides what follows — when every attempt failed, when
the receiver answers another 4xx, when the breaker is open, or when a decision answer is not the JSON above.
Redirects are never followed (a 3xx is a failure). A notification's answer body is never read; a decision
answer is read up to :data:`MAX_ANSWER_BYTES` (more is a failure) and within the attempt's timeout as a whole (a
receiver that trickles its answer byte by byte is a failed attempt, retried like a timeout).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from authhooks.errors import Deny
from authhooks.handlers.actions import Action, subjects_of
from authhooks.handlers.breaker import Breaker, Breakers, target_of
from authhooks.handlers.signing import WebhookSecret, message_id
from authhooks.handlers.spec import Env, Problem, check_keys, duration, flag, integer, number, string, table
from authhooks.handlers.summary import Call, summary
from authhooks.hooks.points import HookPoint, PointKind

__all__ = ["WebhookAction", "WebhookError"]

_PROPAGATOR = TraceContextTextMapPropagator()
_REASON = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_ANSWER_BYTES = 64 * 1024
"""The largest decision answer read from a receiver."""
_RESERVED_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "traceparent",
    "tracestate",
)


class WebhookError(RuntimeError):
    """A delivery that failed; the message names the target (no query, no credentials) and the last problem,
    never the secret, the body or the receiver's answer."""


class _Retry(Exception):
    """An attempt that may be retried."""


class WebhookAction(Action):
    """``webhook``: see the module docstring."""

    kind = "webhook"
    options = (
        "url",
        "secret_env",
        "timeout",
        "retries",
        "backoff",
        "backoff_max",
        "breaker_failures",
        "breaker_cooldown",
        "decision",
        "headers",
    )

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env, name: str, total: float | None) -> None:
        check_keys(options, self.options, "options")
        self.url = string(options, "url", "options")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Problem("options.url", "expected an http:// or https:// URL")
        secret_env = string(options, "secret_env", "options")
        environ = os.environ if env.environ is None else env.environ
        raw = environ.get(secret_env)
        if not raw:
            raise Problem("options.secret_env", f"the environment variable {secret_env} is not set")
        try:
            self._secret = WebhookSecret(raw)
        except ValueError as exc:
            raise Problem("options.secret_env", f"{secret_env}: {exc}") from None
        self.timeout: float = number(options, "timeout", "options", 5.0, low=0.001)
        self.retries: int = integer(options, "retries", "options", 2, low=0, high=20)
        self.backoff: float = number(options, "backoff", "options", 0.5)
        self.backoff_max: float = number(options, "backoff_max", "options", 10.0)
        threshold = integer(options, "breaker_failures", "options", 5, low=1)
        cooldown = duration(options, "breaker_cooldown", "options", 30.0)
        self.decision: bool = flag(options, "decision", "options", False)
        if self.decision and point.kind is not PointKind.DECISION:
            raise Problem("options.decision", f"a decision webhook needs a decision point; {point.name} is not one")
        headers = table(options, "headers", "options", {})
        for key, value in headers.items():
            if key.lower() in _RESERVED_HEADERS:
                raise Problem(f"options.headers.{key}", "is set by the webhook itself")
            if not isinstance(value, str) or "\n" in value or "\r" in value:
                raise Problem(f"options.headers.{key}", "expected a single-line string")
        self.headers = dict(headers)
        self.total = total
        self.target = target_of(self.url)
        breakers: Breakers = env.breakers if env.breakers is not None else Breakers()
        self.breaker: Breaker = breakers.get(self.url, threshold, cooldown)
        self.subjects, self.proxies = subjects_of(env), env.proxies

    # -- the message ---------------------------------------------------------------------------------------------

    def _body(self, call: Call) -> bytes:
        message = {
            "type": call.point.name,
            "timestamp": dt.datetime.fromtimestamp(call.auth.clock(), dt.timezone.utc).isoformat(),
            "data": summary(call, self.subjects, self.proxies),
        }
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _headers(self, msg_id: str, body: bytes, trace: Mapping[str, str]) -> dict[str, str]:
        timestamp = int(time.time())
        return {
            **self.headers,
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self._secret.sign(msg_id, timestamp, body),
            **trace,
        }

    def _delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.backoff_max, self.backoff * (2**attempt)))  # noqa: S311 - jitter

    def _per_attempt(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise WebhookError(f"webhook {self.target}: the handler's timeout ran out")
        return min(self.timeout, left)

    def _check(self, response: httpx.Response) -> bool:
        """What a response's status means: a retry, a failure, or whether its body is to be read (decision
        webhooks)."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}")
        if status >= 300:
            raise WebhookError(f"webhook {self.target}: the receiver answered HTTP {status}")
        return self.decision

    def _take(self, data: bytearray, chunk: bytes, until: float) -> None:
        data += chunk
        if len(data) > MAX_ANSWER_BYTES:
            raise WebhookError(f"webhook {self.target}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
        if time.monotonic() > until:
            raise _Retry("the answer was too slow")

    def _decide(self, content: bytes) -> Any:
        if not content.strip():
            return None
        try:
            answer = json.loads(content)
        except ValueError:
            raise WebhookError(f"webhook {self.target}: the decision answer is not JSON") from None
        if not isinstance(answer, dict) or not set(answer) <= {"deny", "update"} or len(answer) > 1:
            raise WebhookError(f'webhook {self.target}: a decision answer is {{}}, {{"deny": …}} or {{"update": …}}')
        if "update" in answer:
            update = answer["update"]
            if not isinstance(update, dict):
                raise WebhookError(f'webhook {self.target}: "update" must be an object')
            return update or None
        if "deny" in answer:
            deny = answer["deny"] if isinstance(answer["deny"], dict) else {}
            status = deny.get("status", 403)
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                status = 403
            reason = deny.get("reason")
            reason = reason if isinstance(reason, str) and _REASON.match(reason) else "webhook_denied"
            return Deny(status, reason)
        return None

    def _failed(self, last: str) -> WebhookError:
        return WebhookError(f"webhook {self.target}: delivery failed after {self.retries + 1} attempt(s) ({last})")

    # -- the drivers ---------------------------------------------------------------------------------------------

    def run_sync(self, call: Call) -> Any:
        self.breaker.admit()
        try:
            result = self._deliver_sync(call)
        except BaseException:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return result

    async def run_async(self, call: Call) -> Any:
        self.breaker.admit()
        try:
            result = await self._deliver_async(call)
        except BaseException:  # a cancellation (the handler's timeout) too: a half-open trial must end
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return result

    # -- one delivery: the plan is shared, each driver only does the I/O -------------------------------------------

    def _message(self, call: Call) -> tuple[float | None, bytes, str, dict[str, str]]:
        """The delivery's deadline (from the handler's ``timeout``), body, message id and trace headers: one of
        each for every attempt."""
        deadline = None if self.total is None else time.monotonic() + self.total
        return deadline, self._body(call), message_id(), _trace()

    def _pauses(self, deadline: float | None) -> Iterator[float | None]:
        """The pause before each attempt (``None`` before the first); stops when the next pause would reach
        ``deadline``."""
        yield None
        for attempt in range(self.retries):
            pause = self._delay(attempt)
            if deadline is not None and time.monotonic() + pause >= deadline:
                return
            yield pause

    def _attempt(
        self, deadline: float | None, msg_id: str, body: bytes, trace: Mapping[str, str]
    ) -> tuple[float, float, dict[str, str]]:
        """One attempt's timeout, the monotonic time its answer must be read by, and its freshly signed headers."""
        timeout = self._per_attempt(deadline)
        return timeout, time.monotonic() + timeout, self._headers(msg_id, body, trace)

    def _deliver_sync(self, call: Call) -> Any:
        deadline, body, msg_id, trace = self._message(call)
        last = ""
        with httpx.Client(follow_redirects=False) as client:
            for pause in self._pauses(deadline):
                if pause is not None:
                    time.sleep(pause)
                try:
                    timeout, until, headers = self._attempt(deadline, msg_id, body, trace)
                    with client.stream("POST", self.url, content=body, headers=headers, timeout=timeout) as response:
                        data = bytearray()
                        if self._check(response):
                            for chunk in response.iter_bytes():
                                self._take(data, chunk, until)
                    result = self._decide(bytes(data)) if self.decision else None
                except (_Retry, httpx.TransportError) as exc:
                    last = _why(exc)
                    continue
                return result
        raise self._failed(last)

    async def _deliver_async(self, call: Call) -> Any:
        deadline, body, msg_id, trace = self._message(call)
        last = ""
        async with httpx.AsyncClient(follow_redirects=False) as client:
            for pause in self._pauses(deadline):
                if pause is not None:
                    await asyncio.sleep(pause)
                try:
                    timeout, until, headers = self._attempt(deadline, msg_id, body, trace)
                    stream = client.stream("POST", self.url, content=body, headers=headers, timeout=timeout)
                    async with stream as response:
                        data = bytearray()
                        if self._check(response):
                            async for chunk in response.aiter_bytes():
                                self._take(data, chunk, until)
                    result = self._decide(bytes(data)) if self.decision else None
                except (_Retry, httpx.TransportError) as exc:
                    last = _why(exc)
                    continue
                return result
        raise self._failed(last)


def _why(exc: Exception) -> str:
    """A failed attempt's reason for the final error: a retry's own words, or a transport error's class name."""
    return str(exc) if isinstance(exc, _Retry) else type(exc).__name__


def _trace() -> dict[str, str]:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier
