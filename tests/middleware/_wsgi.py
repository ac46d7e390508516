"""The WSGI side of the middleware tests: an in-process transport that builds ``environ`` the way real servers do
(gunicorn, waitress), and the WSGI twin of ``_support.make_app``'s Starlette app."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from authhooks import AuthHooks
from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware

StartResponse = Callable[..., Any]


def environ_for(
    method: str,
    raw_path: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes = b"",
    *,
    script_name: str = "",
    query: bytes = b"",
) -> dict[str, Any]:
    """A PEP 3333 ``environ`` as a server builds it: ``PATH_INFO`` percent-decoded and carried as latin-1 text,
    a repeated header joined with ``,`` (gunicorn, waitress), ``CONTENT_TYPE``/``CONTENT_LENGTH`` unprefixed."""
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1")[len(script_name) :],
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run ``app`` on ``environ`` like a server: status, header pairs (lower-case names) and the whole body; the
    response iterable is closed."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and exc_info[1] is not None:
            raise exc_info[1]
        started.append((status, headers))
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    pairs = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status.split(" ", 1)[0]), pairs, body


class WSGIServerTransport(httpx.AsyncBaseTransport):
    """An httpx transport that serves requests with a WSGI app in a worker thread (the sync driver blocks)."""

    def __init__(self, app: Any, script_name: str = "") -> None:
        self.app = app
        self.script_name = script_name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        environ = environ_for(
            request.method,
            request.url.raw_path.partition(b"?")[0],
            request.headers.raw,
            body,
            script_name=self.script_name,
            query=request.url.query,
        )
        status, headers, content = await asyncio.to_thread(call_wsgi, self.app, environ)
        return httpx.Response(status, headers=headers, content=content, request=request)


# -- the WSGI twin of the Starlette test app --------------------------------------------------------------------


def _json(data: Any, status: str = "200 OK") -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
    return status, [("content-length", str(len(body))), ("content-type", "application/json")], body


def _text(text: str, status: str = "200 OK") -> tuple[str, list[tuple[str, str]], bytes]:
    body = text.encode()
    return status, [("content-length", str(len(body))), ("content-type", "text/plain; charset=utf-8")], body


def twin_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """``/api/me``, ``/api/admin`` (needs scope ``admin``), ``/health``, ``/public/echo`` and ``/login`` (POST),
    answering what the Starlette app of ``_support.make_app`` answers."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    principal = environ.get(PRINCIPAL_KEY)
    routes = {"/api/me": "GET", "/api/admin": "GET", "/health": "GET", "/public/echo": "POST", "/login": "POST"}
    if path not in routes:
        status, headers, body = _text("Not Found", "404 Not Found")
    elif method != routes[path] and not (routes[path] == "GET" and method == "HEAD"):
        status, headers, body = _text("Method Not Allowed", "405 Method Not Allowed")
        headers.insert(0, ("allow", "GET, HEAD" if routes[path] == "GET" else routes[path]))
    elif path == "/api/me":
        scopes = sorted(["authenticated", *principal.scopes]) if principal else []
        status, headers, body = _json(
            {
                "identity": principal.subject if principal else None,
                "authenticated": principal is not None,
                "scopes": scopes,
                "principal": principal.subject if principal else None,
            }
        )
    elif path == "/api/admin":
        if principal is None or "admin" not in principal.scopes:
            status, headers, body = _text("Forbidden", "403 Forbidden")
        else:
            status, headers, body = _text(f"admin {principal.subject}")
    elif path == "/health":
        status, headers, body = _text("ok")
    elif not (environ.get("CONTENT_LENGTH") or "0").isdigit():  # as gunicorn and waitress refuse it themselves
        status, headers, body = _text("Bad Request", "400 Bad Request")
    else:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if path == "/public/echo":
            kind = environ.get("CONTENT_TYPE") or "application/octet-stream"
            status, headers, body = "200 OK", [("content-length", str(len(raw))), ("content-type", kind)], raw
        else:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
                status, headers, body = _json({"error": "bad json"}, "400 Bad Request")
            if data is not None and not isinstance(data, dict):
                status, headers, body = _json({"error": "not an object"}, "400 Bad Request")
            elif isinstance(data, dict):
                ok = data.get("password") == "right"
                status, headers, body = _json({"ok": ok, "got": data}, "200 OK" if ok else "401 Unauthorized")
    start_response(status, headers)
    return [b"" if method == "HEAD" else body]


def make_wsgi_app(auth: AuthHooks, **options: Any) -> AuthHooksWSGIMiddleware:
    """The WSGI twin of ``_support.make_app`` (the same default public paths; ASGI-only options dropped)."""
    options.setdefault("public_paths", ["/health", "/public/**", "/login"])
    options.pop("body_timeout", None)
    if "instrument_asgi" in options:
        options["instrument_wsgi"] = options.pop("instrument_asgi")
    return AuthHooksWSGIMiddleware(twin_app, auth=auth, **options)
