"""The I/O helpers of :mod:`authhooks.tokens.jwks`: a real-time bound on a blocking fetch, and precise, URL-safe
reasons for a failed one (the HTTP status, "not JSON", an issuer mismatch, "connection refused (host:port)").

A reason names at most a host and port and a well-known document name: never the configured path, a query or
credentials, so it can be logged and shown by ``authhooks check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from typing import Any

import httpx

from authhooks.errors import MalformedToken
from authhooks.tokens._json import loads_object

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "FetchError",
    "Watchdog",
    "document_label",
    "fetch_reason",
    "host_port",
    "loads_document",
]

MAX_DOCUMENT_BYTES = 512 * 1024
_CONNECTED = ("connect_tcp.complete", "connect_unix_socket.complete")


class FetchError(Exception):
    """A fetch failed; the reason is a short label naming at most a host and port."""


class Watchdog:
    """A real-time bound on one blocking fetch: at the deadline (or on :meth:`fire`) it shuts the sockets the
    fetch connected, which wakes a blocked read. httpx's read timeout applies per read, so without this a server
    that sends a byte now and then could hold a sync fetch forever. Sockets are learnt from httpcore's ``trace``
    request extension (``connection.connect_tcp.complete`` carries the network stream)."""

    __slots__ = ("_lock", "_sockets", "_timer", "fired")

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._timer = threading.Timer(seconds, self.fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if not name.endswith(_CONNECTED):
            return
        stream = info.get("return_value")
        sock = getattr(stream, "get_extra_info", lambda _: None)("socket")
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                fired = self.fired
            if fired:
                _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # the plain socket's shutdown, also for an SSLSocket (whose own shutdown drops its TLS state under a reader
    # in another thread)
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def host_port(url: str | httpx.URL) -> str:
    """``host:port`` of a URL (the scheme's default port when none is given)."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except (httpx.InvalidURL, TypeError):
        return "an invalid URL"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host}:{port}"


def document_label(url: str) -> str:
    """How a discovery URL is named in a reason: ``host:port`` and the well-known document."""
    name = "openid-configuration" if url.endswith("/openid-configuration") else "oauth-authorization-server"
    return f"{host_port(url)} {name}"


def fetch_reason(exc: BaseException) -> str:
    """A short label for a failed fetch: the :class:`FetchError` text, ``timeout``, or what went wrong connecting
    (``connection refused (host:port)``, ``name resolution failed (host:port)``, ``TLS failed (host:port):
    certificate verify failed``)."""
    if isinstance(exc, FetchError):
        return str(exc)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, httpx.TimeoutException)):
        return "timeout"
    where = ""
    if isinstance(exc, httpx.RequestError):
        with contextlib.suppress(RuntimeError):
            where = f" ({host_port(exc.request.url)})"
    chain = _chain(exc)
    text = " ".join(str(e).lower() for e in chain)
    if isinstance(exc, httpx.ConnectError) or any(isinstance(e, OSError) for e in chain):
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
            return f"connection refused{where}"
        if any(isinstance(e, socket.gaierror) for e in chain) or "name or service" in text or "getaddrinfo" in text:
            return f"name resolution failed{where}"
        if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in text or "ssl" in text:
            return f"TLS failed{where}: " + ("certificate verify failed" if "verify" in text else "handshake error")
        return f"cannot connect{where}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}{where}"
    return type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (httpx wraps httpcore's error, which wraps the socket's), at most 8 deep."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def loads_document(body: bytes) -> dict[str, Any]:
    """A fetched document as a strict JSON object.

    Raises:
        FetchError: ``not JSON`` (RFC 8259) or not an object.
    """
    try:
        return loads_object(body)
    except MalformedToken:
        raise FetchError("not JSON (or not a JSON object)") from None
