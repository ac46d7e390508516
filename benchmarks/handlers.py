"""Declarative handlers' cost: five handlers whose conditions are false against five plain Python hooks at the
same point, and one action run with its audit record.

Run: ``python benchmarks/handlers.py``. At ``challenge.pre`` (a decision point), through ``auth.sync.fire`` (a whole
flow run) and through the bare sync driver (``dispatch_sync`` on the point's tuple):

- ``5 python hooks``: five ``inline=True`` hooks that each check ``subject`` against a compiled regex and return
  None (what a hand-written conditional hook costs);
- ``5 python hooks (default options)``: the same with the default options (each run on the hook threads under
  its timeout);
- ``5 python hooks with when=``: five ``inline=True`` hooks with a ``when=`` Python condition (the regex) that is
  false: the hand-written equivalent of a handler with a condition;
- ``5 handlers, false``: five ``deny`` handlers whose condition (``subject = "^mallory-N$"``) is false;
- ``1 handler runs (log)`` and ``... + audit``: one ``log`` handler that runs, without and with the audit log
  (one ``event`` record per run, HMAC-chained, plus the flow record).

Every variant runs once per round, alternated in a rotating order, after a full garbage collection
(``_timing.rounds``); ratios are medians of same-round ratios. The target (issue 16): five false handlers cost at
most 2x five plain Python hooks at the same point, against inline hooks and against hooks with the default
options, and at the driver (the hooks alone, without the flow run around them) against inline hooks, printed as
``target …`` lines and ``targets_met=yes|no``; the ratios against ``when=`` hooks are printed for information.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _timing import Targets, median_ratio, print_footer, print_header, print_table, rounds
from authhooks import AuthHooks
from authhooks.hooks.dispatch import dispatch_sync

NUMBER, REPEAT = 2000, 11


def _handlers(n: int) -> dict[str, Any]:
    return {
        "handler": [
            {"name": f"h{i}", "event": "challenge.pre", "action": "deny", "conditions": {"subject": f"^mallory-{i}$"}}
            for i in range(n)
        ]
    }


def _python_hook(i: int) -> Any:
    rx = re.compile(f"^mallory-{i}$")

    def hook(subject: str) -> None:
        if rx.search(subject):
            raise AssertionError("not in the benchmark")

    return hook


def _deny() -> None:
    raise AssertionError("not in the benchmark")


def _condition(i: int) -> Any:
    search = re.compile(f"^mallory-{i}$").search
    return lambda subject: search(subject) is not None


def main() -> None:
    logging.getLogger("authhooks.handlers").setLevel(logging.WARNING)  # the log action's line is not the cost
    print_header("declarative handlers: false conditions vs Python hooks, an action run and its audit record")
    state = Path(tempfile.mkdtemp())
    common: dict[str, Any] = {"store_url": "memory://", "telemetry": False, "state_dir": state, "secret": "s" * 64}
    inline = AuthHooks(**common)
    bounded_auth = AuthHooks(**common)
    conditional = AuthHooks(**common)
    for i in range(5):
        inline.add_hook("challenge.pre", _python_hook(i), name=f"p{i}", inline=True)
        bounded_auth.add_hook("challenge.pre", _python_hook(i), name=f"b{i}")
        conditional.add_hook("challenge.pre", _deny, name=f"c{i}", inline=True, when=_condition(i))
    handlers = AuthHooks(handlers=_handlers(5), **common)
    log_spec = {"handler": [{"name": "log", "event": "challenge.pre", "action": "log"}]}
    action = AuthHooks(handlers=log_spec, **common)
    audited = AuthHooks(handlers=log_spec, audit_log_file=state / "audit.jsonl", **common)

    point = inline.point("challenge.pre")
    values = {"subject": "alice", "expire_minutes": 5, "metadata": None}

    def driver(auth: AuthHooks) -> Any:
        hooks, ctx = auth._registry.get("challenge.pre"), auth.context()
        return lambda: dispatch_sync(point, hooks, dict(values), ctx)

    def fire(auth: AuthHooks) -> Any:
        return lambda: auth.sync.fire("challenge.pre", subject="alice", expire_minutes=5)

    cases = {
        "driver: 5 python hooks (inline)": driver(inline),
        "driver: 5 python hooks with when=": driver(conditional),
        "driver: 5 handlers, false": driver(handlers),
        "fire: 5 python hooks (inline)": fire(inline),
        "fire: 5 python hooks with when=": fire(conditional),
        "fire: 5 handlers, false": fire(handlers),
        "fire: 1 handler runs (log)": fire(action),
        "fire: 1 handler runs (log) + audit": fire(audited),
    }
    cases["fire: 5 python hooks (default options)"] = fire(bounded_auth)
    results = rounds(cases, NUMBER, REPEAT)
    print_table("ns per call (median of rounds)", results)

    def ratio(num: str, den: str) -> float:
        return median_ratio(results[num], results[den])

    print("\nratios (median of same-round ratios)")
    informative = {
        "ratio_handlers_vs_when": ("fire: 5 handlers, false", "fire: 5 python hooks with when="),
        "ratio_handlers_vs_when_driver": ("driver: 5 handlers, false", "driver: 5 python hooks with when="),
        "ratio_log_action_vs_false": ("fire: 1 handler runs (log)", "fire: 5 handlers, false"),
    }
    for name, (num, den) in informative.items():
        print(f"{name}={ratio(num, den):.2f}")
    targets = Targets()
    targets.at_most(
        "handlers_vs_inline (fire: 5 false handlers / 5 inline python hooks)",
        ratio("fire: 5 handlers, false", "fire: 5 python hooks (inline)"),
        2.0,
    )
    targets.at_most(
        "handlers_vs_inline_driver (driver: 5 false handlers / 5 inline python hooks, the hooks alone)",
        ratio("driver: 5 handlers, false", "driver: 5 python hooks (inline)"),
        2.0,
    )
    targets.at_most(
        "handlers_vs_default (fire: 5 false handlers / 5 python hooks, default options)",
        ratio("fire: 5 handlers, false", "fire: 5 python hooks (default options)"),
        2.0,
    )
    targets.print()
    for auth in (inline, bounded_auth, conditional, handlers, action, audited):
        auth.close()
    print_footer()


if __name__ == "__main__":
    main()
