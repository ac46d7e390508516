"""Request bodies of the auth routes: a bounded read and a strict parse of JSON or form parameters.

:func:`read_body` is the ASGI part: it stops reading as soon as ``limit`` is passed (or at once when
``Content-Length`` says so) and bounds the wait for the whole body, so a slow or huge body can neither exhaust
memory nor hold a worker. :func:`read_wsgi_body` is the WSGI part: it reads exactly ``CONTENT_LENGTH`` bytes of
``wsgi.input`` (PEP 3333), or up to end-of-input when the server terminates it (``wsgi.input_terminated``, a
chunked body), with the same size bound; the time bound is the server's (gunicorn's ``--timeout``, waitress
buffers the body before calling the app). :func:`check_length` and :func:`parse_fields` are HTTP-agnostic and
shared by both drivers.

Accepted bodies: ``application/json`` (a UTF-8 JSON object, RFC 8259 §8.1; duplicate member names, ``NaN`` and
``Infinity`` refused) and ``application/x-www-form-urlencoded`` (RFC 6749 Appendix B; a parameter sent twice is
refused, RFC 6749 §3.2). Unknown parameters are ignored (RFC 6749 §3.2). Every refusal is a precise 4xx whose
description names the parameter, never its value.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote_to_bytes

from authhooks.errors import AuthError, InvalidRequest

__all__ = [
    "BodyTimeout",
    "ClientDisconnected",
    "Field",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "check_length",
    "media_type",
    "parse_fields",
    "read_body",
    "read_wsgi_body",
]

Receive = Callable[[], Awaitable[Mapping[str, Any]]]


class PayloadTooLarge(AuthError):
    """The body is larger than ``max_body_bytes`` (RFC 9110 §15.5.14)."""

    error: ClassVar[str | None] = "invalid_request"
    status: ClassVar[int] = 413
    default_reason = "body_too_large"
    default_description = "The request body is too large."


class UnsupportedMediaType(AuthError):
    """The body is neither JSON nor a form (RFC 9110 §15.5.16)."""

    error: ClassVar[str | None] = "invalid_request"
    status: ClassVar[int] = 415
    default_reason = "unsupported_media_type"
    default_description = "The request body must be application/json or application/x-www-form-urlencoded."


class MethodNotAllowed(AuthError):
    """The route does not serve this method (RFC 9110 §15.5.6; the response carries ``Allow``)."""

    error: ClassVar[str | None] = "invalid_request"
    status: ClassVar[int] = 405
    default_reason = "method_not_allowed"
    default_description = "The method is not allowed on this route."


class BodyTimeout(AuthError):
    """The client did not send its body in time (RFC 9110 §15.5.9)."""

    error: ClassVar[str | None] = "invalid_request"
    status: ClassVar[int] = 408
    default_reason = "body_timeout"
    default_description = "The request body did not arrive in time."


class ClientDisconnected(Exception):
    """The client went away while its body was read: nothing is to be answered."""


@dataclass(frozen=True, slots=True)
class Field:
    """A parameter a route reads: its name, whether it is required, its longest accepted length, and whether
    it may hold line breaks (a challenge message does)."""

    name: str
    required: bool = True
    max_length: int = 4096
    multiline: bool = False


def check_length(content_length: bytes | None, limit: int) -> int | None:
    """The announced body length (``None`` when absent), checked against ``limit``.

    Raises:
        InvalidRequest: a malformed ``Content-Length`` (not 1-19 digits, RFC 9110 §8.6).
        PayloadTooLarge: it announces more than ``limit`` bytes.
    """
    if content_length is None:
        return None
    text = content_length.strip()
    if not text.isdigit() or len(text) > 19:
        raise InvalidRequest("The Content-Length header is malformed.", reason="malformed_header")
    length = int(text)
    if length > limit:
        raise PayloadTooLarge()
    return length


def read_wsgi_body(stream: Any, limit: int, content_length: bytes | None, terminated: bool = False) -> bytes:
    """Read the whole body from ``wsgi.input`` (``stream``), at most ``limit`` bytes.

    With a ``Content-Length``, exactly that many bytes are read (PEP 3333: never past it). Without one, the body
    is empty unless the server marks the input as terminated (``environ["wsgi.input_terminated"]``), in which
    case it is read to its end, stopping as soon as ``limit`` is passed.

    Raises:
        InvalidRequest: a malformed ``Content-Length``.
        PayloadTooLarge: ``Content-Length`` or the bytes read pass ``limit``.
        ClientDisconnected: the input ended before ``Content-Length`` bytes.
    """
    length = check_length(content_length, limit)
    if length is None and not terminated:
        return b""
    want = limit + 1 if length is None else length
    chunks: list[bytes] = []
    size = 0
    while size < want:
        chunk = stream.read(min(want - size, 65536))
        if not chunk:
            if length is not None:
                raise ClientDisconnected()
            break
        size += len(chunk)
        chunks.append(chunk)
    if size > limit:
        raise PayloadTooLarge()
    return b"".join(chunks)


async def read_body(receive: Receive, limit: int, content_length: bytes | None, timeout: float = 10.0) -> bytes:
    """Read the whole request body, at most ``limit`` bytes, within ``timeout`` seconds.

    Raises:
        InvalidRequest: a malformed ``Content-Length``.
        PayloadTooLarge: ``Content-Length`` or the bytes received pass ``limit`` (reading stops at once).
        BodyTimeout: the body (however it is chunked) did not arrive within ``timeout`` seconds.
        ClientDisconnected: the client disconnected.
    """
    check_length(content_length, limit)
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout  # for the whole body: a trickle of small chunks must not hold the request
    while True:
        message = await _bounded(receive, deadline - loop.time())
        kind = message.get("type")
        if kind == "http.disconnect":
            raise ClientDisconnected()
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _bounded(receive: Receive, timeout: float) -> Mapping[str, Any]:
    """``await receive()``, giving up after ``timeout`` seconds (:class:`BodyTimeout`).

    ``asyncio.wait`` rather than ``wait_for``: it never turns the abandoned read's cancellation into the caller's
    exception, and it works the same on Python 3.10 (no ``asyncio.timeout``).
    """
    if timeout <= 0:
        raise BodyTimeout()
    task = asyncio.ensure_future(receive())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:  # the caller was cancelled: do not leave the read behind
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise BodyTimeout()
    return task.result()


def media_type(content_type: bytes | None) -> tuple[str, str | None]:
    """The lower-cased media type and ``charset`` parameter of a ``Content-Type`` value (``("", None)`` if absent)."""
    if not content_type:
        return "", None
    text = content_type.decode("latin-1")
    kind, *params = text.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _json_object(body: bytes, known: Mapping[str, Field]) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8.", reason="malformed_body") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _Duplicate as dup:
        shown = f" `{dup.key}`" if dup.key in known else ""
        raise InvalidRequest(f"The request body repeats the member{shown}.", reason="duplicate_parameter") from None
    except (ValueError, RecursionError):
        raise InvalidRequest("The request body is not valid JSON.", reason="malformed_body") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", reason="malformed_body")
    return data


def _form(body: bytes, known: Mapping[str, Field]) -> dict[str, Any]:
    if not body.isascii():
        raise InvalidRequest("The form body must be ASCII (percent-encode other bytes).", reason="malformed_body")
    result: dict[str, Any] = {}
    for part in body.split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition(b"=")
        try:
            key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode("utf-8")
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("The form body is not valid UTF-8.", reason="malformed_body") from None
        if key in result:
            shown = f" `{key}`" if key in known else ""
            raise InvalidRequest(f"The form repeats the parameter{shown}.", reason="duplicate_parameter")
        result[key] = value
    return result


def parse_fields(content_type: bytes | None, body: bytes, fields: tuple[Field, ...]) -> dict[str, str]:
    """The ``fields`` of a JSON or form body, checked.

    An empty body counts as no parameters, unless it is declared JSON (then it is not a JSON object: 400). An
    empty string counts as absent (RFC 6749 §3.2: "parameters sent without a value MUST be treated as if they
    were omitted").

    Returns:
        The present fields, by name, as strings.

    Raises:
        UnsupportedMediaType: a body that is neither JSON nor a form, or a charset other than UTF-8.
        InvalidRequest: broken encoding or syntax, a non-object JSON body, a repeated parameter, a missing,
            non-string, too long or control-character-bearing field.
    """
    known = {f.name: f for f in fields}
    kind, charset = media_type(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaType("The request body must be UTF-8.")
    data: dict[str, Any]
    if kind == "application/json":
        data = _json_object(body, known)
    elif kind == "application/x-www-form-urlencoded":
        data = _form(body, known)
    elif not body:
        # No body, whatever the type says: no parameters (wsgiref, hence Django's runserver, reports a missing
        # Content-Type as text/plain). An empty body declared JSON is refused above: it is not a JSON object.
        data = {}
    else:
        raise UnsupportedMediaType()
    result: dict[str, str] = {}
    for f in fields:
        value = data.get(f.name)
        if value is None or value == "":
            if f.required:
                raise InvalidRequest(f"The request is missing `{f.name}`.", reason="missing_parameter")
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"`{f.name}` must be a string.", reason="malformed_parameter")
        if len(value) > f.max_length:
            raise InvalidRequest(
                f"`{f.name}` is too long (at most {f.max_length} characters).", reason="parameter_too_long"
            )
        if not (value.replace("\n", "").isprintable() if f.multiline else value.isprintable()):
            raise InvalidRequest(f"`{f.name}` contains control characters.", reason="malformed_parameter")
        result[f.name] = value
    return result
