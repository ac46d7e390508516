"""A circuit breaker per webhook target, and the metrics that show its state.

``closed``: deliveries go out. After ``threshold`` consecutive failed deliveries (every retry spent) the breaker
**opens**: deliveries fail at once, without a request, for ``cooldown`` seconds. Then it is **half-open**: one
delivery is let through as a trial; its success closes the breaker, its failure opens it for another cooldown.
Deliveries while the trial is out fail at once.

Metrics (OpenTelemetry API; no-op until an SDK is installed), attribute ``authhooks.webhook.target`` = the URL
without its query or credentials:

- ``authhooks.handler.webhook.breaker`` (observable gauge): 0 closed, 1 half-open, 2 open;
- ``authhooks.handler.webhook.deliveries`` (observable counter) with ``authhooks.webhook.result`` =
  ``delivered`` | ``failed`` | ``short_circuited`` (refused by an open breaker).
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from authhooks.telemetry import names

__all__ = ["Breaker", "BreakerOpen", "Breakers", "target_of"]

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_GAUGE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class BreakerOpen(RuntimeError):
    """A delivery refused without a request: the target's breaker is open (or its half-open trial is out)."""


def target_of(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: what metrics and logs may show (no query, no credentials)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class Breaker:
    """The breaker of one target (thread-safe)."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened = 0.0
        self._trial = False
        self.counts = {"delivered": 0, "failed": 0, "short_circuited": 0}

    @property
    def state(self) -> str:
        """``closed``, ``half_open`` or ``open`` (an open breaker past its cooldown reads ``half_open``)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened >= self.cooldown:
                return HALF_OPEN
            return self._state

    def admit(self) -> None:
        """Let one delivery start, or raise :class:`BreakerOpen`."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened >= self.cooldown:
                self._state, self._trial = HALF_OPEN, False
            if self._state == CLOSED or (self._state == HALF_OPEN and not self._trial):
                if self._state == HALF_OPEN:
                    self._trial = True
                return
            self.counts["short_circuited"] += 1
        raise BreakerOpen("the webhook target's circuit breaker is open")

    def succeeded(self) -> None:
        """A delivery succeeded: close the breaker."""
        with self._lock:
            self._state, self._failures, self._trial = CLOSED, 0, False
            self.counts["delivered"] += 1

    def failed(self) -> None:
        """A delivery failed (retries spent): count it; open the breaker at the threshold or after a trial."""
        with self._lock:
            self.counts["failed"] += 1
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.threshold:
                self._state, self._opened, self._trial = OPEN, self._clock(), False


class Breakers:
    """One :class:`Breaker` per target, shared by every webhook handler of an ``AuthHooks`` (kept across reloads),
    with its metrics.

    Args:
        clock: monotonic seconds (the breakers read ``self.clock`` at each use, so a test may replace it).
        meter: where the instruments are made (default: the global OpenTelemetry meter provider's).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, meter: metrics.Meter | None = None) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._by_target: dict[str, Breaker] = {}
        meter = meter if meter is not None else metrics.get_meter(names.INSTRUMENTATION_SCOPE)
        meter.create_observable_gauge(
            names.METRIC_WEBHOOK_BREAKER,
            callbacks=[self._observe_state],
            unit="1",
            description="Circuit breaker state per webhook target: 0 closed, 1 half-open, 2 open.",
        )
        meter.create_observable_counter(
            names.METRIC_WEBHOOK_DELIVERIES,
            callbacks=[self._observe_counts],
            unit="{delivery}",
            description="Webhook deliveries per target and result.",
        )

    def get(self, url: str, threshold: int, cooldown: float) -> Breaker:
        """The breaker of ``url``'s target (created with ``threshold`` and ``cooldown`` on first use)."""
        target = target_of(url)
        with self._lock:
            breaker = self._by_target.get(target)
            if breaker is None:
                breaker = self._by_target[target] = Breaker(threshold, cooldown, lambda: self.clock())
            return breaker

    def states(self) -> dict[str, str]:
        """Every target's state."""
        with self._lock:
            items = list(self._by_target.items())
        return {target: b.state for target, b in items}

    def _observe_state(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(_GAUGE[s], {names.ATTR_WEBHOOK_TARGET: t}) for t, s in self.states().items()]

    def _observe_counts(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            items = list(self._by_target.items())
        out: list[Observation] = []
        for target, breaker in items:
            for result, count in dict(breaker.counts).items():
                attributes: dict[str, Any] = {names.ATTR_WEBHOOK_TARGET: target, names.ATTR_WEBHOOK_RESULT: result}
                out.append(Observation(count, attributes))
        return out
