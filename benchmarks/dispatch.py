"""Hook dispatch cost: authhooks against a plain loop, pluggy and blinker, in the same run.

Run: ``python benchmarks/dispatch.py``. For K = 0, 1 and 5 sync hooks (each taking two arguments and returning
None) it times:

- ``plain``: ``for f in hooks: f(subject=..., expire_minutes=...)``;
- ``pluggy``: ``pm.hook.challenge_pre(subject=..., expire_minutes=...)``;
- ``blinker``: ``signal.send(None, subject=..., expire_minutes=...)``;
- ``engine``: what a flow does at a hook point — the registry lookup and, when there are hooks,
  ``dispatch_sync`` (a decision point, so returns are checked) — with hooks registered ``inline=True``, which is
  how pluggy and blinker call theirs (in the caller's thread, unbounded);
- ``engine bounded``: the same with hooks registered with the defaults (each run on authhooks' hook threads under
  its timeout): the price of a bounded hook, a thread hop, timed with fewer calls;
- ``engine async``: the same with ``dispatch_async`` and K async hooks registered with the defaults (each
  awaited under its timeout; one coroutine runs the batch);
- ``engine async inline``: ``dispatch_async`` with the ``inline=True`` sync hooks of ``engine`` (called on the
  loop): the async driver's own cost per hook;
- ``fire_sync``: the public ``auth.sync.fire(...)``, a whole flow run (generator, driver, result record).

The last line is ``ratio_vs_pluggy_K5=<engine ns / pluggy ns>`` (median of same-round ratios); the target is
at most 0.5.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import blinker
import pluggy

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_ratio, print_footer, print_header, print_table, rounds
from authhooks import AuthHooks
from authhooks.hooks.dispatch import dispatch_async, dispatch_sync

NUMBER, REPEAT = 20000, 15

hookspec = pluggy.HookspecMarker("bench")
hookimpl = pluggy.HookimplMarker("bench")


class Spec:
    @hookspec
    def challenge_pre(self, subject: str, expire_minutes: int) -> None:
        """Spec."""


def make_pluggy(k: int) -> Any:
    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(Spec)
    for i in range(k):
        plugin = type(f"P{i}", (), {"challenge_pre": hookimpl(lambda self, subject, expire_minutes: None)})()
        pm.register(plugin, name=f"p{i}")
    return pm.hook.challenge_pre


def make_blinker(k: int) -> tuple[Any, list[Any]]:
    signal = blinker.Signal()
    receivers = [lambda sender, subject, expire_minutes: None for _ in range(k)]
    for r in receivers:
        signal.connect(r, weak=False)
    return signal, receivers


def main() -> None:
    print_header("hook dispatch: authhooks vs a plain loop, pluggy and blinker")
    results: dict[str, list[float]] = {}
    ratios: dict[int, float] = {}
    loop = asyncio.new_event_loop()
    for k in (0, 1, 5):
        auth = AuthHooks(store_url="memory://", telemetry=False)
        auth_async = AuthHooks(store_url="memory://", telemetry=False)
        bounded = AuthHooks(store_url="memory://", telemetry=False)
        for i in range(k):
            auth.add_hook("challenge.pre", lambda subject, expire_minutes: None, name=f"h{i}", inline=True)
            bounded.add_hook("challenge.pre", lambda subject, expire_minutes: None, name=f"b{i}")

            async def ahook(subject: str, expire_minutes: int) -> None:
                return None

            auth_async.add_hook("challenge.pre", ahook, name=f"a{i}")
        point = auth.point("challenge.pre")
        registry, registry_async = auth._registry, auth_async._registry
        ctx = auth.context()
        values = {"subject": "alice", "expire_minutes": 5, "metadata": None}

        def engine() -> None:
            hooks = registry.get("challenge.pre")
            if hooks:
                dispatch_sync(point, hooks, values, ctx)

        async def engine_async_batch(n: int) -> None:
            for _ in range(n):
                hooks = registry_async.get("challenge.pre")
                if hooks:
                    await dispatch_async(point, hooks, values, ctx)

        async def engine_async_inline_batch(n: int) -> None:
            for _ in range(n):
                hooks = registry.get("challenge.pre")
                if hooks:
                    await dispatch_async(point, hooks, values, ctx)

        plain_hooks = [lambda subject, expire_minutes: None for _ in range(k)]

        def plain() -> None:
            for f in plain_hooks:
                f(subject="alice", expire_minutes=5)

        caller = make_pluggy(k)
        signal, _keep = make_blinker(k)
        batch = 200

        cases = {
            f"K={k} plain loop": plain,
            f"K={k} pluggy": lambda: caller(subject="alice", expire_minutes=5),
            f"K={k} blinker": lambda: signal.send(None, subject="alice", expire_minutes=5),
            f"K={k} engine": engine,
            f"K={k} engine async (per call)": lambda: loop.run_until_complete(engine_async_batch(batch)),
            f"K={k} engine async inline (per call)": lambda: loop.run_until_complete(engine_async_inline_batch(batch)),
            f"K={k} auth.sync.fire": lambda: auth.sync.fire("challenge.pre", subject="alice", expire_minutes=5),
        }
        res = rounds(cases, NUMBER // 10 if k else NUMBER, REPEAT)
        bounded_hooks = bounded._registry.get("challenge.pre")

        def engine_bounded() -> None:
            if bounded_hooks:
                dispatch_sync(point, bounded_hooks, values, ctx)

        res.update(rounds({f"K={k} engine bounded (thread hop)": engine_bounded}, 200, 5))
        bounded.close()
        for name in (f"K={k} engine async (per call)", f"K={k} engine async inline (per call)"):
            res[name] = [v / batch for v in res[name]]
        results.update(res)
        ratios[k] = median_ratio(res[f"K={k} engine"], res[f"K={k} pluggy"])
    loop.close()
    print_table("hook dispatch, ns per call (median of rounds)", results)
    print()
    for k, r in ratios.items():
        print(f"ratio_vs_pluggy_K{k}={r:.3f}")
    print_footer()


if __name__ == "__main__":
    main()
