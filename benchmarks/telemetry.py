"""What telemetry costs on a protected request, in one run.

Run: ``python benchmarks/telemetry.py``. A Starlette route behind ``AuthHooksMiddleware`` with three hooks at
``validate_token.post`` (a repeated HS256 token, so the validated-token cache answers and the hooks and
telemetry are most of the work), called in-process with a prepared ASGI scope:

- ``off``: ``AUTHHOOKS_TELEMETRY=false``;
- ``event``: the default (one flow span, one span event per hook run, the flow-duration histogram);
- ``event+hook_metrics``: plus the per-hook duration histogram (``AUTHHOOKS_HOOK_METRICS=true``);
- ``span``: a child span per hook run;
- next to the cost of one SDK span (start + end) on the same provider.

The SDK provider has a ``BatchSpanProcessor`` with an exporter that drops everything, and a metric reader. The
last lines give ``added_<mode>_us`` (the mode minus ``off``) and ``added_event_in_spans`` (that cost in units
of one SDK span; the product target is at most 1).
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


def build(mode: str) -> tuple[Any, dict[str, Any]]:
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

    for fn in (audit, tier, quota):
        auth.add_hook("validate_token.post", fn)
    app = AuthHooksMiddleware(Starlette(routes=[Route("/me", _me)]), auth=auth, protect=["/me"])
    token = auth.issue_token_sync("alice").token
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


async def main() -> None:
    modes = ("off", "event", "event+hook_metrics", "span")
    apps = {mode: build(mode) for mode in modes}
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    results["one SDK span"] = []
    for app, scope in apps.values():
        await _per_request(app, scope, NUMBER // 10)
    for _ in range(REPEAT):
        for mode, (app, scope) in apps.items():
            results[mode].append(await _per_request(app, scope, NUMBER))
        results["one SDK span"].append(_one_span(NUMBER))
    print("\nprotected request, 3 hooks, repeated HS256 token (µs per request, median of rounds)")
    for name, values in results.items():
        print(f"  {name:<22} {statistics.median(values):8.2f} µs")
    print()
    span = results["one SDK span"]
    for mode in modes[1:]:
        added = [m - o for m, o in zip(results[mode], results["off"], strict=True)]
        print(f"added_{mode.replace('+', '_')}_us={statistics.median(added):.2f}")
    added_event = [(m - o) / s for m, o, s in zip(results["event"], results["off"], span, strict=True)]
    print(f"added_event_in_spans={statistics.median(added_event):.2f}")
    TRACER_PROVIDER.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
