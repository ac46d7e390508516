"""TOML for authhooks' own files (handlers, clients, OAuth providers): ``tomllib`` on Python ≥ 3.11, ``tomli``
(a dependency there) on 3.10 — one import site, so every file reader parses TOML the same way on every Python."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:  # pragma: no cover - Python 3.10
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads"]
