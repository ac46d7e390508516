"""Shared timing helpers for the benchmarks: honest same-round comparisons.

Every benchmark in this folder measures the same way:

- **garbage collected before each timed block** (:func:`collected`): a full collection that lands in a block
  traverses every live object (the validated-token cache alone holds 10,000 entries), so without it one variant
  pays for garbage another made, and a ratio can swing by a fifth;
- **variants alternated within a round**: each round runs every variant once, in an order rotated from round to
  round, so drift (frequency scaling, a neighbour's load) hits all alike;
- **the median of per-round ratios** (:func:`median_ratio`), never a ratio of medians;
- **the load average** printed at the start and the end (:func:`print_header`, :func:`print_footer`): a figure
  measured on a loaded machine is marked as such.

Targets are printed one per line as ``target <name> = <figure> (<op> <bound>) met|MISSED`` followed by one
``targets_met=yes|no`` line (:class:`Targets`).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "Targets",
    "arounds",
    "collected",
    "load_average",
    "median_ratio",
    "per_call_ns",
    "print_footer",
    "print_header",
    "print_table",
    "rotated",
    "rounds",
]


def request_options(doc: str | None) -> argparse.ArgumentParser:
    """A parser with the options of the request benchmarks: ``--quick`` (a smoke run), ``--number`` (requests per
    case per round) and ``--rounds``; its description is ``doc``'s first line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="few requests and rounds (a smoke run)")
    parser.add_argument("--number", type=int, default=None, help="requests per case per round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds")
    return parser


def sizes(args: argparse.Namespace, number: int, rounds: int = 11, quick: int = 50) -> tuple[int, int]:
    """Requests per case per round and rounds: the options of :func:`request_options` when given, else ``number``
    and ``rounds`` (``quick`` and 3 with ``--quick``)."""
    return args.number or (quick if args.quick else number), args.rounds or (3 if args.quick else rounds)


def repeat(token: str) -> Iterator[str]:
    """``token`` forever (the ``cached`` regime: one token for every request)."""
    while True:
        yield token


@contextmanager
def collected() -> Iterator[None]:
    """Run a full garbage collection before the block (the block itself runs with the collector on, as a
    server does)."""
    gc.collect()
    yield


def rotated(names: list[str], round_index: int) -> list[str]:
    """``names`` rotated by ``round_index``: each variant takes each position in turn across rounds."""
    if not names:
        return names
    k = round_index % len(names)
    return names[k:] + names[:k]


def per_call_ns(fn: Callable[[], object], number: int) -> float:
    """Nanoseconds per call of ``fn`` over ``number`` calls, after a full garbage collection."""
    with collected():
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        return (time.perf_counter_ns() - start) / number


def rounds(cases: dict[str, Callable[[], object]], number: int, repeat: int) -> dict[str, list[float]]:
    """Run every case once per round (alternated, order rotated per round); ns per call per round."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        per_call_ns(fn, max(1, number // 10))  # warm up
    names = list(cases)
    for i in range(repeat):
        for name in rotated(names, i):
            out[name].append(per_call_ns(cases[name], number))
    return out


async def arounds(cases: dict[str, Callable[[], Awaitable[float]]], repeat: int) -> dict[str, list[float]]:
    """:func:`rounds` for async cases that time themselves: each case is awaited once per round (order rotated)
    after a full garbage collection, and returns its own figure for the round."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(repeat):
        for name in rotated(names, i):
            gc.collect()
            out[name].append(await cases[name]())
    return out


def median_ratio(num: list[float], den: list[float]) -> float:
    """The median of same-round ratios ``num[i] / den[i]``."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on this platform
        return "n/a"
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def print_header(title: str) -> None:
    """The command that made the figures, the interpreter, the CPU count and the load average."""
    command = " ".join(["python", os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    print(title)
    print(f"command: {command}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average at start: {load_average()}")


def print_footer() -> None:
    """The load average at the end."""
    print(f"load average at end: {load_average()}")


def print_table(title: str, results: dict[str, list[float]], unit: str = "ns") -> None:
    """Print the median per-call time of every case."""
    print(f"\n{title}")
    width = max(len(n) for n in results)
    for name, values in results.items():
        med = statistics.median(values)
        shown = f"{med:10.1f} ns" if unit == "ns" else f"{med / 1000:10.2f} µs"
        print(f"  {name:<{width}}  {shown}")


class Targets:
    """Collects targets and prints each with its figure, then ``targets_met=yes|no``."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str, float, bool]] = []

    def at_most(self, name: str, figure: float, bound: float) -> bool:
        """Record the target ``figure <= bound``; return whether it is met."""
        met = figure <= bound
        self.rows.append((name, figure, "≤", bound, met))
        return met

    def at_least(self, name: str, figure: float, bound: float) -> bool:
        """Record the target ``figure >= bound``; return whether it is met."""
        met = figure >= bound
        self.rows.append((name, figure, "≥", bound, met))
        return met

    @property
    def met(self) -> bool:
        """True when every recorded target is met."""
        return all(row[4] for row in self.rows)

    def print(self) -> None:
        """One line per target, then ``targets_met=``."""
        print()
        for name, figure, op, bound, met in self.rows:
            print(f"target {name} = {figure:.2f} ({op} {bound:g}) {'met' if met else 'MISSED'}")
        print(f"targets_met={'yes' if self.met else 'no'}")
