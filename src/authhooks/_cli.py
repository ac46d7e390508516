"""The ``authhooks`` command (also ``python -m authhooks``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from authhooks.errors import ConfigurationError

__all__ = ["main", "run"]


def _build_parser() -> argparse.ArgumentParser:
    from authhooks import __version__

    parser = argparse.ArgumentParser(
        prog="authhooks",
        description="Extensible, observable and strict authentication for ASGI and WSGI apps.",
    )
    parser.add_argument("--version", action="version", version=f"authhooks {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = commands.add_parser("config", help="print the resolved settings (secrets masked)")
    config.add_argument("--list", action="store_true", help="list every AUTHHOOKS_* variable with its default")
    return parser


def _config(args: argparse.Namespace) -> int:
    from authhooks.config import Settings

    if args.list:
        for variable, default, doc in Settings.describe():
            print(f"{variable:40} {default or '-':24} {doc}")
        return 0
    settings = Settings.from_env()
    for variable, _, _ in Settings.describe():
        name = variable.removeprefix("AUTHHOOKS_").lower()
        value = getattr(settings, name)
        shown = ",".join(value) if isinstance(value, tuple) else value
        print(f"{variable}={'' if shown is None else shown}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (``ConfigurationError`` → 2 with a one-line message)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            return _config(args)
    except ConfigurationError as exc:
        print(f"authhooks: configuration error: {exc}", file=sys.stderr)
        return 2
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
