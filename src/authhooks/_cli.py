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
    config = commands.add_parser(
        "config", help="print the resolved settings (secrets masked); exit 2 when one cannot work, as AuthHooks() would"
    )
    config.add_argument("--list", action="store_true", help="list every AUTHHOOKS_* variable with its default")
    commands.add_parser(
        "check",
        help="the doctor: resolve settings, load keys, ping the store, fetch the key set, read the handlers file, "
        "send a test span; one line per check, exit 1 on any failure",
        description="Check the configuration the way the app will meet it, one line per check: settings (every "
        "AUTHHOOKS_* variable parses), keys (secret strength, key files; the default key is not created), store "
        "(URL scheme, then a ping; a SQLite file is not created), key set (fetched when AUTHHOOKS_JWKS_URL or "
        "AUTHHOOKS_OIDC_ISSUER is set), handlers file (loaded as AuthHooks loads it: one line per bad handler with "
        "its file, line and field), telemetry (a test span through OTEL_TRACES_EXPORTER, when set). Exit status 1 "
        "when any check fails, else 0.",
    )
    handlers = commands.add_parser(
        "handlers",
        help="check a handlers file (one line per bad handler, exit 1) or list its handlers in execution order",
        description="Declarative handlers (AUTHHOOKS_HANDLERS_FILE): 'check FILE' loads the file strictly and "
        "prints one line per problem (file:line: handler 'name': field: problem), exit 1; 'list [FILE]' prints "
        "every point with its hooks and handlers in execution order and their conditions.",
    )
    from authhooks.handlers.command import add_arguments

    add_arguments(handlers)
    audit = commands.add_parser("audit", help="work with the keyed, hash-chained audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the keyed chain and its checkpoint; name the first tampered record"
    )
    verify.add_argument("file", help="the JSONL audit log (AUTHHOOKS_AUDIT_LOG_FILE)")
    verify.add_argument("--key-file", help="file holding the audit key (default: AUTHHOOKS_AUDIT_KEY)")
    verify.add_argument("--checkpoint", help="the log's checkpoint (default: FILE.checkpoint)")
    client_secret = commands.add_parser(
        "client-secret",
        help="print a new client secret and its hash (for AUTHHOOKS_CLIENTS / AUTHHOOKS_CLIENTS_FILE)",
        description="Print a new random client secret (give it to the client) and its PBKDF2-SHA256 hash (put it "
        "in the clients setting: only the hash is stored). With --stdin, hash the secret read from standard input "
        "instead and print the hash only.",
    )
    client_secret.add_argument("--stdin", action="store_true", help="hash the secret read from standard input")
    client_secret.add_argument("--iterations", type=int, default=None, help="PBKDF2 iterations (default 600000)")
    commands.add_parser(
        "demo",
        help="serve the demo app on 127.0.0.1 (--walkthrough runs a client against it)",
        add_help=False,
    )
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
    from authhooks._checks import check_settings

    check_settings(settings)  # what AuthHooks() checks: a key, store URL or handlers file that cannot work → 2
    if settings.handlers_file is not None:  # AuthHooks() loads it: a bad handler refuses construction → 2
        from authhooks.handlers.command import check_file

        _, problems = check_file(settings.handlers_file, settings)
        for problem in problems:
            print(f"authhooks: configuration error: {problem}", file=sys.stderr)
        if problems:
            return 2
    return 0


def _check() -> int:
    import asyncio

    from authhooks._checks import doctor

    checks = asyncio.run(doctor())
    for check in checks:
        print(check.line())
    return 1 if any(check.status == "failed" for check in checks) else 0


def _client_secret(args: argparse.Namespace) -> int:
    from authhooks.clients import DEFAULT_ITERATIONS, hash_client_secret, new_client_secret

    iterations = DEFAULT_ITERATIONS if args.iterations is None else args.iterations
    try:
        if args.stdin:
            secret = sys.stdin.read().rstrip("\r\n")
            print(hash_client_secret(secret, iterations=iterations))
            return 0
        secret, secret_hash = new_client_secret(iterations=iterations)
    except ValueError as exc:
        print(f"authhooks: {exc}", file=sys.stderr)
        return 2
    print(f"client_secret={secret}")
    print(f"secret_hash={secret_hash}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (``ConfigurationError`` → 2 with a one-line message)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    if argv[:1] == ["demo"]:
        from authhooks.demo import demo_main

        try:
            return demo_main(argv[1:])
        except ConfigurationError as exc:
            print(f"authhooks: configuration error: {exc}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            return _config(args)
        if args.command == "check":
            return _check()
        if args.command == "handlers":
            from authhooks.handlers.command import run

            return run(args, parser)
        if args.command == "client-secret":
            return _client_secret(args)
        if args.command == "audit":
            from authhooks.exporters.audit_verify import audit_verify_main

            return audit_verify_main(args.file, key_file=args.key_file, checkpoint=args.checkpoint)
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
