"""Shared timing helpers for the benchmarks: same-round ratios, medians, a table printer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_ns(fn: Callable[[], object], number: int) -> float:
    """Nanoseconds per call of ``fn`` over ``number`` calls."""
    start = time.perf_counter_ns()
    for _ in range(number):
        fn()
    return (time.perf_counter_ns() - start) / number


def rounds(cases: dict[str, Callable[[], object]], number: int, repeat: int) -> dict[str, list[float]]:
    """Run every case once per round (interleaved, so drift hits all alike); ns per call per round."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        per_call_ns(fn, max(1, number // 10))  # warm up
    for _ in range(repeat):
        for name, fn in cases.items():
            out[name].append(per_call_ns(fn, number))
    return out


def median_ratio(num: list[float], den: list[float]) -> float:
    """The median of same-round ratios ``num[i] / den[i]``."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def print_table(title: str, results: dict[str, list[float]], unit: str = "ns") -> None:
    """Print the median per-call time of every case."""
    print(f"\n{title}")
    width = max(len(n) for n in results)
    for name, values in results.items():
        med = statistics.median(values)
        shown = f"{med:10.1f} ns" if unit == "ns" else f"{med / 1000:10.2f} µs"
        print(f"  {name:<{width}}  {shown}")
