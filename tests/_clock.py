"""The engine's injected wall clock for tests that move time without sleeping."""

from __future__ import annotations

import time


class Clock:
    """The engine's injected wall clock, which a test can move (``clock.skew`` seconds ahead)."""

    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew
