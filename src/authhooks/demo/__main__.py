"""``python -m authhooks.demo``: the same as ``authhooks demo``."""

from __future__ import annotations

import sys

from authhooks.demo import demo_main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(demo_main())
