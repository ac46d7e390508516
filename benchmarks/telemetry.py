"""What telemetry costs on a protected request, in one run.

Run: ``python benchmarks/telemetry.py``. A Starlette route behind ``AuthHooksMiddleware``, called in-process
with a prepared ASGI scope and a repeated HS256 token (the validated-token cache answers, so hooks and telemetry
are most of the work). With three hooks at ``validate_token.post``:

- ``off``: ``AUTHHOOKS_TELEMETRY=false``;
- ``event``: the default (one flow span, one span event per hook run, the flow-duration histogram);
- ``event+hook_metrics``: plus the per-hook duration histogram (``AUTHHOOKS_HOOK_METRICS=true``);
- ``span``: a child span per hook run.

And, to price the parts:

- ``off, 0 hooks`` / ``event, 0 hooks``: the same without hooks, so ``hooks_event`` (what recording the three
  hook runs adds: ``(event - off) - (event, 0 hooks - off, 0 hooks)``) is separated from the flow's own span
  and histogram;
- ``off + 1 SDK span``: ``off`` with one bare SDK span started and ended around each request by a wrapping
  ASGI app, so ``span_per_request`` is what one SDK span costs *per request*, in the same warm-up state as the
  modes (in a tight loop of nothing but spans, ``one SDK span, tight loop``, it looks about half as dear);
- ``off + 1 current span``: the same with ``start_as_current_span`` (the span made current, as the flow span
  is, and as instrumentations do).

The SDK provider has a ``BatchSpanProcessor`` with an exporter that drops everything, and a metric reader. The
last lines give each mode's added µs and ``added_event_in_spans`` / ``hooks_event_in_spans`` in units of
``span_per_request``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from authhooks import AuthHooks, Principal, Secret
from authhooks.middleware import AuthHooksMiddleware
from authhooks.telemetry.tracing import TelemetryObserver

NUMBER, REPEAT = 2000, 9
STATE_DIR = tempfile.mkdtemp(prefix="authhooks-bench-")


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


TRACER_PROVIDER = TracerProvider()
TRACER_PROVIDER.add_span_processor(BatchSpanProcessor(_Drop()))
METER_PROVIDER = MeterProvider(metric_readers=[InMemoryMetricReader()])


async def _me(request: Any) -> PlainTextResponse:
    return PlainTextResponse(request.user.identity)


def build(mode: str, hooks: int = 3) -> tuple[Any, dict[str, Any]]:
    auth = AuthHooks(store_url="memory://", secret=Secret("t" * 48), telemetry=False, state_dir=STATE_DIR)
    if mode != "off":
        hook_mode = "span" if mode == "span" else "event"
        settings = auth.settings.replace(telemetry=True, hook_telemetry=hook_mode)
        observer = TelemetryObserver(
            settings,
            tracer_provider=TRACER_PROVIDER,
            meter_provider=METER_PROVIDER,
            hook_durations=mode == "event+hook_metrics",
        )
        auth.add_observer(observer)

    def audit(principal: Principal) -> None:
        return None

    def tier(principal: Principal) -> None:
        return None

    def quota(principal: Principal) -> None:
        return None

    for fn in (audit, tier, quota)[:hooks]:
        auth.add_hook("validate_token.post", fn)
    app = AuthHooksMiddleware(Starlette(routes=[Route("/me", _me)]), auth=auth, protect=["/me"])
    token = auth.sync.issue_token("alice").token
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/me",
        "raw_path": b"/me",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("bench", 80),
    }
    return app, scope


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _per_request(app: Any, scope: dict[str, Any], n: int) -> float:
    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.perf_counter_ns()
    for _ in range(n):
        await app(dict(scope), _receive, send)
    elapsed = (time.perf_counter_ns() - start) / n / 1000
    assert set(status) == {200}, set(status)
    return elapsed


def _one_span(n: int) -> float:
    tracer = TRACER_PROVIDER.get_tracer("bench")
    start = time.perf_counter_ns()
    for _ in range(n):
        tracer.start_span("one").end()
    return (time.perf_counter_ns() - start) / n / 1000


class _OneSpan:
    """Wraps an app with one bare SDK span per request (or, with ``current``, one made current)."""

    def __init__(self, app: Any, *, current: bool) -> None:
        self.app, self.current = app, current
        self.tracer = TRACER_PROVIDER.get_tracer("bench")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.current:
            with self.tracer.start_as_current_span("one"):
                await self.app(scope, receive, send)
            return
        self.tracer.start_span("one").end()
        await self.app(scope, receive, send)


def _added(results: dict[str, list[float]], mode: str, base: str = "off") -> list[float]:
    return [m - o for m, o in zip(results[mode], results[base], strict=True)]


async def main() -> None:
    modes = ("off", "event", "event+hook_metrics", "span")
    apps = {mode: build(mode) for mode in modes}
    apps["off, 0 hooks"] = build("off", hooks=0)
    apps["event, 0 hooks"] = build("event", hooks=0)
    app, scope = build("off")
    apps["off + 1 SDK span"] = (_OneSpan(app, current=False), scope)
    apps["off + 1 current span"] = (_OneSpan(app, current=True), scope)
    results: dict[str, list[float]] = {mode: [] for mode in apps}
    results["one SDK span, tight loop"] = []
    for app, scope in apps.values():
        await _per_request(app, scope, NUMBER // 10)
    for _ in range(REPEAT):
        for mode, (app, scope) in apps.items():
            results[mode].append(await _per_request(app, scope, NUMBER))
        results["one SDK span, tight loop"].append(_one_span(NUMBER))
    print("\nprotected request, repeated HS256 token (µs per request, median of rounds)")
    for name, values in results.items():
        print(f"  {name:<26} {statistics.median(values):8.2f} µs")
    print()
    span = _added(results, "off + 1 SDK span")
    print(f"span_per_request_us={statistics.median(span):.2f}")
    print(f"current_span_per_request_us={statistics.median(_added(results, 'off + 1 current span')):.2f}")
    for mode in modes[1:]:
        print(f"added_{mode.replace('+', '_')}_us={statistics.median(_added(results, mode)):.2f}")
    flow_only = _added(results, "event, 0 hooks", "off, 0 hooks")
    hooks = [e - f for e, f in zip(_added(results, "event"), flow_only, strict=True)]
    print(f"flow_event_us={statistics.median(flow_only):.2f}")
    print(f"hooks_event_us={statistics.median(hooks):.2f}")
    added = _added(results, "event")
    print(f"added_event_in_spans={statistics.median(a / b for a, b in zip(added, span, strict=True)):.2f}")
    print(f"hooks_event_in_spans={statistics.median(h / b for h, b in zip(hooks, span, strict=True)):.2f}")
    TRACER_PROVIDER.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
