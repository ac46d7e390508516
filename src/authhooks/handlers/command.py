"""``authhooks handlers check FILE`` and ``authhooks handlers list [FILE]`` (also ``python -m authhooks.handlers``).

- ``check``: load the file through the real loader (:func:`authhooks.handlers.loading.load`, then registration,
  which finds ordering cycles and a Python action's parameters), print one line per problem
  (``FILE:LINE: handler 'name': field: problem``) and exit 1, or print ``FILE: N handler(s) OK`` and exit 0.
  ``authhooks check`` (the doctor) and ``authhooks config`` report through :func:`check_file` too.
- ``list``: every point that has handlers, with all its hooks in execution order (Python hooks of the application
  are not known here: only the handlers and their bookkeeping hooks), each handler's conditions shown.

``FILE`` defaults to ``AUTHHOOKS_HANDLERS_FILE``. A setting the check itself needs that cannot work (a malformed
``AUTHHOOKS_TRUSTED_PROXIES``) is a ``ConfigurationError``: exit 2, as for every bad setting.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from authhooks.config import Settings
from authhooks.errors import ConfigurationError

__all__ = ["add_arguments", "check_file", "main", "run"]


def _auth(settings: Settings | None) -> Any:
    """A throwaway ``AuthHooks`` to load into: memory store, no telemetry, and of the settings only those the
    handlers read (so a key or store mistake, reported on its own line by the doctor, is not repeated here)."""
    from authhooks import AuthHooks

    base = settings if settings is not None else Settings.from_env()
    return AuthHooks(
        Settings(
            store_url="memory://",
            telemetry=False,
            trusted_proxies=base.trusted_proxies,
            record_subject=base.record_subject,
            record_subject_hashed=base.record_subject_hashed,
        )
    )


def check_file(
    path: str | Path, settings: Settings | None = None, environ: Mapping[str, str] | None = None
) -> tuple[int, list[str]]:
    """Load ``path`` as ``AuthHooks`` would and collect every problem.

    Args:
        settings: the resolved settings (default: from ``AUTHHOOKS_*``).
        environ: where ``secret_env`` variables are looked up (default ``os.environ``).

    Returns:
        ``(handlers, problems)``: the number of handlers that load, and one line per problem naming the file, the
        line of the handler and the field (empty when the file is good).

    Raises:
        ConfigurationError: a setting the check needs cannot work.
    """
    from authhooks.handlers import _env
    from authhooks.handlers.loading import load

    auth = _auth(settings)
    try:
        errors: list[ConfigurationError] = []
        try:
            handlers = load(path, _env(auth, None, environ), errors=errors)
        except ConfigurationError as exc:  # unreadable, not TOML, not [[handler]] tables
            return 0, [str(exc)]
        if not errors:
            try:  # what only registration finds: an ordering cycle, a Python action's parameters
                auth.load_handlers(path, environ=environ)
            except ConfigurationError as exc:
                errors.append(exc)
        return len(handlers), [str(e) for e in errors]
    finally:
        auth.close()


def _list(path: str) -> int:
    auth = _auth(None)
    try:
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
                if not on and any(
                    b.point.name == point for h in handler_set if h.hook_name == name for b in h.bindings
                ):
                    print(f"  {name} [disabled]")
        return 0
    finally:
        auth.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` and ``list`` subcommands (``handlers_command``, ``file``) to ``parser``."""
    sub = parser.add_subparsers(dest="handlers_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="load a handlers file strictly; one line per bad handler (file:line: field), exit 1"
    )
    listing = sub.add_parser("list", help="every point with its hooks and handlers in execution order, conditions")
    for p in (check, listing):
        p.add_argument("file", nargs="?", help="the handlers file (default: AUTHHOOKS_HANDLERS_FILE)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed ``check``/``list`` command; return the exit status (2 for a setting that cannot work)."""
    path = args.file
    if path is None:
        path = os.environ.get("AUTHHOOKS_HANDLERS_FILE")
        if not path:
            parser.error("no FILE and AUTHHOOKS_HANDLERS_FILE is not set")
    try:
        if args.handlers_command == "list":
            return _list(path)
        count, problems = check_file(path)
    except ConfigurationError as exc:  # a setting of the environment that cannot work
        print(exc)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{path}: {count} handler(s) OK")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m authhooks.handlers``: run the command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m authhooks.handlers", description="Check or list a handlers file.")
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)
