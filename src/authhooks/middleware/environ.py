"""The PEP 3333 side of the WSGI driver: what it reads from an ``environ`` (the route path, the header pairs, the
request view) and how it starts a response (:func:`send`).

* **Paths.** ``PATH_INFO`` is the path the app routes on (``SCRIPT_NAME`` is where the app is mounted, as ASGI's
  ``root_path``); both are percent-decoded by the server and, per PEP 3333, carried as latin-1 text of the raw
  bytes. :func:`wsgi_text` turns them back into UTF-8 text (undecodable bytes become U+FFFD, as uvicorn does), so
  patterns see the same path under both drivers. An empty ``PATH_INFO`` (the mount point itself) is ``/``.
* **Headers.** ``HTTP_*`` keys plus ``CONTENT_TYPE`` and ``CONTENT_LENGTH``, as lower-case ``(name, value)``
  byte pairs. A server joins a repeated header into one value (``a, b``): the strict Bearer parser refuses such
  an ``Authorization``; a joined ``Content-Length`` or (unquoted) ``Content-Type`` is split back into its values,
  so the routes refuse it as repeated (400 ``duplicate_header``), as under ASGI.
* **Request view.** :func:`wsgi_request_info` builds the :class:`~authhooks.records.RequestInfo` hooks see: the
  full path (``SCRIPT_NAME`` + ``PATH_INFO``), ``REMOTE_ADDR``, ``wsgi.url_scheme`` and the headers, which are
  built on first access and never carry credentials (:class:`~authhooks.middleware.scope.RequestHeaders`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from authhooks.errors import InvalidRequest
from authhooks.middleware.responses import Prepared
from authhooks.middleware.scope import RequestHeaders
from authhooks.records import RequestInfo

__all__ = [
    "INCOMPLETE_BODY",
    "Environ",
    "EnvironHeaders",
    "StartResponse",
    "WSGIApp",
    "full_path",
    "route_path",
    "send",
    "wsgi_request_info",
    "wsgi_text",
]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

INCOMPLETE_BODY = InvalidRequest("The request body ended before its Content-Length.", reason="incomplete_body")
"""The refusal of a body whose client went away before ``CONTENT_LENGTH`` bytes (nobody reads the answer)."""

_UNPREFIXED = {"CONTENT_TYPE": b"content-type", "CONTENT_LENGTH": b"content-length"}


def wsgi_text(value: str) -> str:
    """A PEP 3333 "bytes as latin-1" string as UTF-8 text (a value that is not latin-1 is returned as is)."""
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "replace")


def route_path(environ: Mapping[str, Any]) -> str:
    """The path the app routes on: ``PATH_INFO`` as text, ``/`` when empty."""
    return wsgi_text(environ.get("PATH_INFO", "")) or "/"


def full_path(environ: Mapping[str, Any]) -> str:
    """``SCRIPT_NAME`` + ``PATH_INFO`` as text (what ASGI calls ``scope["path"]``)."""
    return wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"


class EnvironHeaders:
    """The request headers of an ``environ`` as lower-case ``(name, value)`` byte pairs, computed on iteration."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._environ.items():
            if not isinstance(value, str):
                continue
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").lower().encode("latin-1")
            elif key in _UNPREFIXED:
                if not value:
                    continue
                name = _UNPREFIXED[key]
            else:
                continue
            try:
                raw = value.encode("latin-1")
            except UnicodeEncodeError:  # not PEP 3333 text: carried as UTF-8
                raw = value.encode("utf-8")
            if key in _UNPREFIXED and b"," in raw and b'"' not in raw:
                # A repeated Content-Type or Content-Length, joined by the server: seen as repeated (400).
                for part in raw.split(b","):
                    yield name, part.strip()
            else:
                yield name, raw


def wsgi_request_info(environ: Mapping[str, Any], route: str | None = None) -> RequestInfo:
    """The :class:`~authhooks.records.RequestInfo` of a WSGI request (no credentials in it).

    ``route`` names the route template when known (the built-in routes set it).
    """
    return RequestInfo(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=full_path(environ),
        client_ip=environ.get("REMOTE_ADDR") or None,
        scheme=environ.get("wsgi.url_scheme", "http"),
        headers=RequestHeaders(EnvironHeaders(environ)),
        route=route,
    )


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def send(start_response: StartResponse, response: Prepared, *, head: bool = False) -> list[bytes]:
    """Start ``response`` with ``start_response`` and return its body iterable (empty for ``HEAD``; the headers,
    ``Content-Length`` included, are the same as for ``GET``)."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
    start_response(_status_line(response.status), headers)
    return [] if head else [response.body]
