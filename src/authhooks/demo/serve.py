"""``authhooks demo`` without ``--walkthrough``: serve the demo app in the foreground until Ctrl-C."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PORT", "serve", "try_it"]


def try_it(url: str) -> str:
    """The how-to-try text printed when the server starts."""
    return f"""\
authhooks demo on {url}   (Ctrl-C to stop)

  The signing key and the SQLite store live in the state directory (AUTHHOOKS_STATE_DIR).
  Each flow prints one telemetry line with its hook decisions.

Try it:
  curl -s {url}/public
  curl -si {url}/me                                   # 401 with a Bearer challenge
  curl -s -X POST {url}/auth/challenge \\
       -H 'content-type: application/json' -d '{{"subject": "<base64url Ed25519 public key>"}}'
  curl -s {url}/auth/jwks.json                        # the public key that signs the tokens

Log in with an Ed25519 key (sign the challenge message), call /me and /admin, hit the rate limit,
refresh and log out, from another terminal:
  python -m authhooks.demo.walkthrough {url}

API docs: {url}/docs
"""


DEFAULT_PORT = 8000


def serve(host: str = "127.0.0.1", port: int | None = None) -> int:
    """Serve the demo app (telemetry on, :func:`~authhooks.demo.app.demo_exporter`) on ``host:port`` until
    Ctrl-C; return 0.

    Args:
        host: the interface.
        port: the port (``0``: a free one); ``None`` tries 8000 and takes a free port when 8000 is taken.

    Raises:
        OSError: the address cannot be bound (a given port that is taken).
        ConfigurationError: the ``AUTHHOOKS_*`` settings are invalid.
    """
    from authhooks.demo.app import create_app, create_auth
    from authhooks.demo.handlers import Receivers, load_example

    with Receivers(echo=lambda line: print(f"demo receiver: {line}", flush=True)) as receivers:
        auth = create_auth()
        try:
            loaded = load_example(auth, receivers)
        except BaseException:
            auth.close()
            raise
        return _serve(create_app(auth, telemetry=True), host, port, loaded, receivers)


def _serve(app: Any, host: str, port: int | None, loaded: Path | None, receivers: Any) -> int:
    from authhooks.demo._server import bind, run_server

    if port is None:
        try:
            sock = bind(host, DEFAULT_PORT)
        except OSError:
            print(f"authhooks demo: port {DEFAULT_PORT} is taken; using a free port", flush=True)
            sock = bind(host, 0)
    else:
        sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(try_it(f"http://{shown}:{bound_port}"), flush=True)
    if loaded is None:
        print("  examples/handlers.toml is not here (an installed wheel): no declarative handlers\n", flush=True)
    else:
        print(f"  Handlers from {loaded}; its webhooks go to {receivers.webhook_url} and its mail to", flush=True)
        print(f"  {receivers.smtp_url}: the demo's receivers, which print each delivery here.\n", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after a graceful shutdown
        run_server(app, sock, log_level="info")
    return 0
