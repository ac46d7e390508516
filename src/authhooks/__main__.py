"""``python -m authhooks``: the CLI."""

from __future__ import annotations

import sys

from authhooks._cli import main

sys.exit(main())
