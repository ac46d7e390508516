"""``authhooks demo``: a small FastAPI app behind the middleware, to try the flows and watch the hooks decide.

- ``authhooks demo`` serves it on http://127.0.0.1:8000 (a free port when 8000 is taken; ``--port`` to choose)
  until Ctrl-C, with the compact console telemetry (one line per flow with its hook decisions; set
  ``OTEL_TRACES_EXPORTER`` and the other ``OTEL_*`` variables to export elsewhere), and prints how to try it.
- ``authhooks demo --walkthrough`` starts it on a free port (or ``--port``) in this process and walks through
  every flow with an httpx client, printing each step; the exit status is 0 when every step answered as
  expected.

Both load the declarative handlers of ``examples/handlers.toml`` with their webhook and mail targets on
receivers of the demo's own (:mod:`authhooks.demo.handlers`).

The app lives in :mod:`authhooks.demo.app`, the client in :mod:`authhooks.demo.walkthrough`; both need the
``demo`` extra (FastAPI and uvicorn): ``pip install 'authhooks[demo]'``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["demo_main"]

_INSTALL_HINT = "authhooks demo needs FastAPI and uvicorn: pip install 'authhooks[demo]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authhooks demo",
        description="Serve the authhooks demo app, or walk through its flows with a scripted client.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on; 0 picks a free one (default: a free one for --walkthrough; else 8000, or a free "
        "one when 8000 is taken)",
    )
    parser.add_argument(
        "--walkthrough",
        action="store_true",
        help="start the server in this process and run the scripted client against it (exit 0 when all is well)",
    )
    return parser


def _missing_extra() -> str | None:
    for module in ("fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            return module
    return None


def demo_main(argv: list[str] | None = None) -> int:
    """Run ``authhooks demo`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Exit status: 0 on success (or Ctrl-C while serving), 1 when a walkthrough step deviated, 2 when the demo
    extra is missing, the port cannot be bound or the configuration is invalid.
    """
    args = _parser().parse_args(argv)
    missing = _missing_extra()
    if missing is not None:
        print(f"{_INSTALL_HINT} ({missing} is not installed)", file=sys.stderr)
        return 2
    from authhooks.errors import ConfigurationError

    try:
        if args.walkthrough:
            from authhooks.demo.walkthrough import run_walkthrough

            return run_walkthrough(args.host, 0 if args.port is None else args.port)
        from authhooks.demo.serve import serve

        return serve(args.host, args.port)
    except ConfigurationError as exc:
        print(f"authhooks demo: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{args.host}:{args.port}" if args.port is not None else args.host
        print(f"authhooks demo: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
