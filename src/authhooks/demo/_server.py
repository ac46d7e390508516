"""Run an ASGI app under uvicorn on 127.0.0.1: in the foreground (``serve``) or in a background thread
(``ServerThread``, for the walkthrough and the end-to-end tests).

Both bind the socket themselves, so port ``0`` picks a free port and the real one is known before the server
starts.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["ServerThread", "bind", "run_server"]


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (``0`` picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _server(app: Any, *, log_level: str) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=log_level in ("info", "debug"))
    return uvicorn.Server(config)


def run_server(app: Any, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve ``app`` on ``sock`` in the foreground until Ctrl-C (uvicorn handles the signal)."""
    try:
        _server(app, log_level=log_level).run(sockets=[sock])
    finally:
        sock.close()


class ServerThread:
    """Serve an ASGI app under uvicorn in a daemon thread, as a context manager.

    Args:
        app: the ASGI app.
        host: the interface (keep ``127.0.0.1``).
        port: the port; ``0`` picks a free one (read :attr:`url` after entering).
        log_level: uvicorn's log level (``warning`` keeps the output quiet).
        startup_timeout: seconds to wait for the server to accept connections.

    Raises:
        RuntimeError: on entering, when the server did not start in time (e.g. the app's lifespan failed).
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 15.0,
    ) -> None:
        self._sock = bind(host, port)
        self._server = _server(app, log_level=log_level)
        self._thread = threading.Thread(target=self._run, name="authhooks-demo-server", daemon=True)
        self._timeout = startup_timeout
        self._error: BaseException | None = None
        bound_host, bound_port = self._sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        """The base URL the server listens on."""

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported to the thread that waits for startup
            self._error = exc

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"the demo server did not start on {self.url}") from self._error
            time.sleep(0.01)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(self._timeout)
        self._sock.close()
