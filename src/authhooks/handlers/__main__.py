"""``python -m authhooks.handlers check FILE`` and ``python -m authhooks.handlers list [FILE]``.

- ``check``: load the file as ``AuthHooks`` would (settings from ``AUTHHOOKS_*``), print one line per problem
  (``FILE:LINE: handler 'name': field: problem``) and exit 1, or print ``FILE: N handler(s) OK`` and exit 0.
- ``list``: every point that has handlers, with all its hooks in execution order (Python hooks of the application
  are not known here: only the handlers and their bookkeeping hooks), each handler's conditions shown.
  ``FILE`` defaults to ``AUTHHOOKS_HANDLERS_FILE``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from authhooks.errors import ConfigurationError

__all__ = ["main"]


def _auth() -> Any:
    from authhooks import AuthHooks
    from authhooks.config import Settings

    settings = Settings.from_env(handlers_file=None, store_url="memory://", telemetry=False)
    return AuthHooks(settings)


def _check(path: str) -> int:
    from authhooks.handlers import _env
    from authhooks.handlers.loading import load

    auth = _auth()
    errors: list[ConfigurationError] = []
    try:
        handlers = load(path, _env(auth, None, None), errors=errors)
    except ConfigurationError as exc:
        print(exc)
        return 1
    if not errors:
        try:  # what only registration finds: an ordering cycle, a Python action's parameters
            auth.load_handlers(path)
        except ConfigurationError as exc:
            errors.append(exc)
    for error in errors:
        print(error)
    if errors:
        return 1
    print(f"{path}: {len(handlers)} handler(s) OK")
    return 0


def _list(path: str) -> int:
    auth = _auth()
    try:
        handler_set = auth.load_handlers(path)
    except ConfigurationError as exc:
        print(exc)
        return 1
    conditions = {f"handler:{h.name}": h.conditions for h in handler_set}
    enabled = {f"handler:{h.name}": handler_set.is_enabled(h.name) for h in handler_set}
    points = sorted(
        {b.point.name for h in handler_set for b in h.bindings}
        | {p for p in ("login.pre", "login.post", "login.failed") if auth.hooks(p)}
    )
    for point in points:
        print(point)
        for hook in auth.hooks(point):
            shown = conditions.get(hook.name)
            flags = [] if hook.enforce else ["shadow"]
            if hook.background:
                flags.append("background")
            extra = f" [{', '.join(flags)}]" if flags else ""
            when = f" when {json.dumps(shown, default=str, sort_keys=True)}" if shown else ""
            print(f"  {hook.name}{extra}{when}")
        for name, on in enabled.items():
            if not on and any(b.point.name == point for h in handler_set if h.hook_name == name for b in h.bindings):
                print(f"  {name} [disabled]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m authhooks.handlers", description="Check or list a handlers file.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "list"):
        p = sub.add_parser(name)
        p.add_argument("file", nargs="?", help="the handlers file (default: AUTHHOOKS_HANDLERS_FILE)")
    args = parser.parse_args(argv)
    path = args.file
    if path is None:
        import os

        path = os.environ.get("AUTHHOOKS_HANDLERS_FILE")
        if not path:
            parser.error("no FILE and AUTHHOOKS_HANDLERS_FILE is not set")
    try:
        return _check(path) if args.command == "check" else _list(path)
    except ConfigurationError as exc:  # a setting of the environment that cannot work
        print(exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
