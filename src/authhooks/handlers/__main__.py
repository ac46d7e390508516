"""``python -m authhooks.handlers check FILE`` / ``list [FILE]``: the same command as ``authhooks handlers``
(:mod:`authhooks.handlers.command`)."""

from __future__ import annotations

import sys

from authhooks.handlers.command import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
