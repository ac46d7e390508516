"""What telemetry adds to a protected request with three hooks, in bare SDK spans, in one run.

Run: ``python benchmarks/telemetry.py`` (``--quick`` for a smoke run; ``--number``, ``--rounds``). A Starlette
route behind ``AuthHooksMiddleware``, called in-process with a prepared ASGI scope and a repeated HS256 token (the
validated-token cache answers, so hooks and telemetry are most of the work), three sync hooks at
``validate_token.post``. The SDK is what ``authhooks.telemetry.setup()`` builds: a ``TracerProvider`` with a
``BatchSpanProcessor`` (its exporter drops everything) and a ``MeterProvider`` with a metric reader and exemplars
off.

Cases, each alternated within a round (order rotated per round) after a full garbage collection (``_timing``);
a round's scopes are built before it is timed and each is dropped once answered, as a server drops it:

- ``off``: ``AUTHHOOKS_TELEMETRY=false``; ``off + 1 bare span``: ``off`` with one bare SDK span started and ended
  around each request by a wrapping ASGI app: **the unit**, what one SDK span costs per request in the same
  warm-up state (a tight loop of nothing but spans, ``one SDK span, tight loop``, looks about half as dear);
- ``server: …``: the same request under a recording SERVER span made current by a wrapping ASGI app (as
  ``opentelemetry-instrumentation-asgi`` does), telemetry ``off``, or in a mode;
- the modes: ``event`` (the default: ``flow_spans=auto``, one span event per hook run), ``attributes`` (three
  arrays), ``span`` (a child span per hook run), ``always`` (``flow_spans=always``, event mode) and
  ``+histograms`` (event mode with ``AUTHHOOKS_FLOW_HISTOGRAM`` and ``AUTHHOOKS_HOOK_METRICS``).

Each mode's figure is ``(mode - off) / unit`` with the matching ``off`` (under the server span or not), the
median of per-round ratios. Targets (product.md §8, issue 15): under a server span ``event`` ≤ 3 and
``attributes`` ≤ 2.2; without one ``event`` ≤ 4; each printed with its figure, then ``targets_met=yes|no``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from _timing import Targets, arounds, print_footer, print_header, request_options, sizes
from authhooks import AuthHooks, Principal, Secret
from authhooks.middleware import AuthHooksMiddleware
from authhooks.telemetry.tracing import TelemetryObserver

STATE_DIR = tempfile.mkdtemp(prefix="authhooks-bench-")
TARGETS = {"server: event": 3.0, "server: attributes": 2.2, "event": 4.0}


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


TRACER_PROVIDER = TracerProvider()
TRACER_PROVIDER.add_span_processor(BatchSpanProcessor(_Drop()))
METER_PROVIDER = MeterProvider(metric_readers=[InMemoryMetricReader()], exemplar_filter=AlwaysOffExemplarFilter())
TRACER = TRACER_PROVIDER.get_tracer("bench")

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def _me(request: Any) -> PlainTextResponse:
    return PlainTextResponse(request.user.identity)


def build(mode: str) -> tuple[ASGIApp, dict[str, Any]]:
    """The protected app with three hooks and telemetry in ``mode`` (``off`` or one of the modes above)."""
    auth = AuthHooks(store_url="memory://", secret=Secret("t" * 48), telemetry=False, state_dir=STATE_DIR)
    if mode != "off":
        overrides: dict[str, Any] = {"telemetry": True}
        if mode in ("attributes", "span"):
            overrides["hook_telemetry"] = mode
        if mode == "always":
            overrides["flow_spans"] = "always"
        if mode == "+histograms":
            overrides.update(flow_histogram=True, hook_metrics=True)
        settings = auth.settings.replace(**overrides)
        auth.add_observer(TelemetryObserver(settings, tracer_provider=TRACER_PROVIDER, meter_provider=METER_PROVIDER))

    def audit(principal: Principal) -> None:
        return None

    def tier(principal: Principal) -> None:
        return None

    def quota(principal: Principal) -> None:
        return None

    for fn in (audit, tier, quota):
        auth.add_hook("validate_token.post", fn, name=fn.__name__, inline=True)
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


class _OneSpan:
    """Wraps an app with one bare SDK span per request, started and ended (not made current)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        TRACER.start_span("one").end()
        await self.app(scope, receive, send)


class _ServerSpan:
    """Wraps an app in a recording SERVER span made current, as the ASGI instrumentation does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        with TRACER.start_as_current_span("GET /me", kind=SpanKind.SERVER):
            await self.app(scope, receive, send)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _timed(app: ASGIApp, scope: dict[str, Any], n: int) -> Callable[[], Awaitable[float]]:
    """A round of ``n`` requests: the scopes built before timing, each dropped once answered (as a server does)."""
    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    async def run() -> float:
        status.clear()
        scopes: list[dict[str, Any] | None] = [dict(scope) for _ in range(n)]
        gc.collect()
        start = time.perf_counter_ns()
        for i in range(n):
            one, scopes[i] = scopes[i], None
            await app(one, _receive, send)  # type: ignore[arg-type]
        elapsed = (time.perf_counter_ns() - start) / n / 1000
        if set(status) != {200}:
            raise RuntimeError(f"answers {set(status)}, not 200")
        return elapsed

    return run


def _tight_loop(n: int) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter_ns()
        for _ in range(n):
            TRACER.start_span("one").end()
        return (time.perf_counter_ns() - start) / n / 1000

    return run


MODES = ("event", "attributes", "span", "always", "+histograms")


async def main(number: int, rounds: int) -> int:
    cases: dict[str, Callable[[], Awaitable[float]]] = {}
    off_app, scope = build("off")
    cases["off"] = _timed(off_app, scope, number)
    cases["off + 1 bare span"] = _timed(_OneSpan(off_app), scope, number)
    cases["server: off"] = _timed(_ServerSpan(off_app), scope, number)
    for mode in MODES:
        app, scope = build(mode)
        cases[mode] = _timed(app, scope, number)
        cases[f"server: {mode}"] = _timed(_ServerSpan(app), scope, number)
    cases["one SDK span, tight loop"] = _tight_loop(number)
    for run in cases.values():  # warm up
        await run()
    results = await arounds(cases, rounds)

    print(f"\nprotected request, repeated HS256 token, three hooks ({number} requests x {rounds} rounds)")
    for name, values in results.items():
        print(f"  {name:<26} {statistics.median(values):8.2f} µs")
    unit = [s - o for s, o in zip(results["off + 1 bare span"], results["off"], strict=True)]
    print(f"\nspan_per_request_us={statistics.median(unit):.2f}")
    targets = Targets()
    print("\nadded per request: µs, and in bare SDK spans (median of per-round ratios)")
    for mode in (*MODES, *(f"server: {m}" for m in MODES)):
        base = results["server: off" if mode.startswith("server: ") else "off"]
        added = [m - b for m, b in zip(results[mode], base, strict=True)]
        spans = statistics.median(a / u for a, u in zip(added, unit, strict=True))
        print(f"  {mode:<24} {statistics.median(added):8.2f} µs  {spans:5.2f} spans")
        if mode in TARGETS:
            targets.at_most(f"spans_{mode.replace('server: ', 'server_')}", spans, TARGETS[mode])
    targets.print()
    return 0 if targets.met else 1


if __name__ == "__main__":
    args = request_options(__doc__).parse_args()
    print_header("what telemetry adds to a protected request with three hooks, in bare SDK spans")
    code = asyncio.run(main(*sizes(args, 2000, quick=200)))
    print_footer()
    TRACER_PROVIDER.shutdown()
    sys.exit(0)
