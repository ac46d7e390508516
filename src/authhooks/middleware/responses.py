"""Denial and fault responses: RFC 6750 §3 challenges with RFC 6749 §5.2 or RFC 9457 bodies.

The builder (:class:`Responses`) is HTTP-agnostic: it turns an exception into a :class:`Prepared` response
(status, header pairs as bytes, body bytes) that the ASGI driver sends with :func:`send_prepared` and a WSGI
driver would hand to ``start_response``. Responses that never vary (the bare challenge, the two faults) are
built once, at construction.

Rules:

- Every rejection of a **protected resource** carries ``WWW-Authenticate: Bearer realm="…"`` (RFC 6750 §3;
  RFC 9110 §15.5.2 requires one on every 401). With no credentials the challenge is bare (no ``error``,
  RFC 6750 §3.1); otherwise it names ``error``, ``error_description`` and, for ``insufficient_scope``, ``scope``.
- ``realm`` is a quoted-string with ``\\`` escapes (RFC 9110 §5.6.4); ``error_description`` and ``scope`` may only
  hold the characters RFC 6750 §3 allows, so anything else is replaced, never escaped.
- Bodies: ``error_format="bearer"`` gives ``{"error", "error_description"}`` (RFC 6749 §5.2 style; empty for the
  bare challenge); ``"problem+json"`` gives an RFC 9457 document (``type``, ``title``, ``status``, ``detail``
  plus ``error``/``reason`` extension members) as ``application/problem+json``.
- ``Cache-Control: no-store`` on every denial (RFC 6749 §5.1, RFC 9111 §5.2.2.5).
- Faults (the service could not decide) are 503, anything unexpected 500, each with one fixed, generic body:
  never token contents, never library exception text, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from authhooks.errors import (
    AuthError,
    Deny,
    HookError,
    HookFailed,
    InsufficientScope,
    KeySetUnavailableError,
    StoreError,
)

__all__ = ["FAULTS", "Prepared", "Responses", "dumps", "quote", "send_prepared"]

logger = logging.getLogger("authhooks.middleware")

FAULTS: tuple[type[BaseException], ...] = (KeySetUnavailableError, StoreError, HookError)
"""Exceptions that mean "could not decide" (503), as opposed to a rejection or an unexpected error (500)."""

Headers = tuple[tuple[bytes, bytes], ...]

_NO_STORE = (b"cache-control", b"no-store")
_JSON = b"application/json"
_PROBLEM = b"application/problem+json"
_DESCRIPTION_FORBIDDEN = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_TITLES = {
    "invalid_request": "Invalid request",
    "invalid_token": "Invalid token",
    "insufficient_scope": "Insufficient scope",
    "invalid_grant": "Invalid grant",
    "invalid_client": "Invalid client",
    "unauthorized_client": "Unauthorized client",
    "access_denied": "Access denied",
    None: "Authentication required",
}
_FAULT_BODIES = {
    503: ("temporarily_unavailable", "Service Unavailable", "The service could not complete the authentication check."),
    500: ("server_error", "Internal Server Error", "The service failed to process the request."),
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A complete response: status, header pairs (lower-case names, as bytes) and body."""

    status: int
    headers: Headers
    body: bytes = b""


def dumps(value: Any) -> bytes:
    """Compact, ASCII-only JSON (so no byte of a body can break a proxy or a log line)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string: ``\\`` and ``"`` escaped, control and non-latin-1 characters dropped."""
    kept = "".join(c for c in value if c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff")
    return '"' + kept.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _description(value: str) -> str:
    # RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E — no quote, no backslash, ASCII only.
    return _DESCRIPTION_FORBIDDEN.sub("", value.replace('"', "'").replace("\\", "/"))[:200]


def build(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes = b"") -> Prepared:
    """A :class:`Prepared` with ``content-length`` added."""
    return Prepared(status, (*headers, (b"content-length", str(len(body)).encode("ascii"))), body)


def json_response(
    status: int, data: Any, *, cache_control: bytes = b"no-store", extra: Iterable[tuple[bytes, bytes]] = ()
) -> Prepared:
    """A JSON response (``Pragma: no-cache`` too when ``no-store``, as RFC 6749 §5.1 asks of token responses)."""
    headers: list[tuple[bytes, bytes]] = [(b"content-type", _JSON), (b"cache-control", cache_control)]
    if cache_control == b"no-store":
        headers.append((b"pragma", b"no-cache"))
    headers.extend(extra)
    return build(status, headers, dumps(data))


class Responses:
    """Builds every denial the middleware sends.

    Args:
        realm: the ``realm`` of challenges (``Settings.effective_realm``).
        error_format: ``"bearer"`` or ``"problem+json"``.
    """

    __slots__ = ("_basic", "_challenge", "_problem", "bare_challenge", "faults")

    def __init__(self, realm: str, error_format: str = "bearer") -> None:
        self._problem = error_format == "problem+json"
        self._challenge = "Bearer realm=" + quote(realm)
        self._basic = ("Basic realm=" + quote(realm)).encode("latin-1")
        self.bare_challenge: Prepared = self._render(401, None, "missing_credentials", "", challenge=True)
        """The 401 for a request that sent no credentials (RFC 6750 §3.1: no error code)."""
        self.faults: dict[int, Prepared] = {status: self._fault(status) for status in _FAULT_BODIES}
        """The fixed 503 and 500 responses."""

    # -- building -------------------------------------------------------------------------------------------

    def www_authenticate(self, error: str | None, description: str = "", scopes: Iterable[str] = ()) -> bytes:
        """The ``WWW-Authenticate`` value: ``Bearer realm="…"`` plus, for an error, its attributes (RFC 6750 §3)."""
        value = self._challenge
        if error is not None:
            value += f', error="{error}"'
            if description:
                value += f', error_description="{_description(description)}"'
            scope = " ".join(s for s in scopes if isinstance(s, str) and _SCOPE_TOKEN.fullmatch(s))
            if scope:
                value += f', scope="{scope}"'
        return value.encode("latin-1")

    def _body(self, status: int, error: str | None, reason: str, description: str) -> tuple[bytes, bytes | None]:
        """The body and its content type (``None`` for an empty body)."""
        if self._problem:
            doc: dict[str, Any] = {
                "type": f"urn:authhooks:problem:{error or reason}",
                "title": _TITLES.get(error, "Request refused"),
                "status": status,
                "detail": description or _TITLES.get(error, "Request refused"),
            }
            if error is not None:
                doc["error"] = error
            doc["reason"] = reason
            return dumps(doc), _PROBLEM
        if error is None:
            return b"", None
        return dumps({"error": error, "error_description": description}), _JSON

    def _render(
        self,
        status: int,
        error: str | None,
        reason: str,
        description: str,
        *,
        challenge: bool,
        scopes: Iterable[str] = (),
        extra: Iterable[tuple[bytes, bytes]] = (),
    ) -> Prepared:
        body, content_type = self._body(status, error, reason, description)
        headers: list[tuple[bytes, bytes]] = [_NO_STORE]
        if challenge:
            headers.append((b"www-authenticate", self.www_authenticate(error, description, scopes)))
        if content_type is not None:
            headers.append((b"content-type", content_type))
        headers.extend(extra)
        return build(status, headers, body)

    def _fault(self, status: int) -> Prepared:
        error, title, detail = _FAULT_BODIES[status]
        if self._problem:
            doc = {"type": "about:blank", "title": title, "status": status, "detail": detail, "error": error}
            return build(status, [_NO_STORE, (b"content-type", _PROBLEM)], dumps(doc))
        body = dumps({"error": error, "error_description": detail})
        return build(status, [_NO_STORE, (b"content-type", _JSON)], body)

    # -- public entry points --------------------------------------------------------------------------------

    def error(self, exc: AuthError, *, challenge: bool = True, extra: Iterable[tuple[bytes, bytes]] = ()) -> Prepared:
        """The response for a rejection.

        Args:
            exc: the rejection; its ``error``, ``status``, ``reason`` and generic ``description`` are used.
            challenge: ``True`` for a protected resource (always a ``WWW-Authenticate`` header); ``False`` for
                the auth routes (RFC 6749 §5.2 style: a challenge only on 401).
            extra: more headers (``Allow`` for a 405).
        """
        if isinstance(exc, Deny):
            return self.deny(exc)
        if exc.error is None and exc.status == 401 and not extra:
            return self.bare_challenge
        scopes = exc.required_scopes if isinstance(exc, InsufficientScope) else ()
        return self._render(
            exc.status,
            exc.error,
            exc.reason,
            exc.description,
            challenge=challenge or exc.status == 401,
            scopes=scopes,
            extra=extra,
        )

    def client_error(self, exc: AuthError) -> Prepared:
        """A refused client authentication (RFC 6749 §5.2): a 401 ``invalid_client`` carries
        ``WWW-Authenticate: Basic realm="…"``, the scheme of ``client_secret_basic``, instead of a Bearer
        challenge; a 400 ``unauthorized_client`` carries none."""
        extra = [(b"www-authenticate", self._basic)] if exc.status == 401 else []
        return self._render(exc.status, exc.error, exc.reason, exc.description, challenge=False, extra=extra)

    def deny(self, deny: Deny) -> Prepared:
        """A hook's :class:`~authhooks.errors.Deny`, with its status, headers and body (``bytes`` as is, ``str`` as
        UTF-8 text, a mapping as JSON, ``None`` as the error format's body). A 401 without its own
        ``WWW-Authenticate`` gets the bare challenge (RFC 9110 §15.5.2). A :class:`HookFailed` is a fault (503)."""
        if isinstance(deny, HookFailed):
            return self.faults[503]
        headers: list[tuple[bytes, bytes]] = []
        names: set[str] = set()
        raw = cast(Mapping[object, object], deny.headers)  # hooks build these at run time: check every item
        for name, value in raw.items():
            if (
                not (isinstance(name, str) and isinstance(value, str))
                or not (_HEADER_NAME.fullmatch(name) and _HEADER_VALUE.fullmatch(value))
                or name.lower() in ("content-length", "transfer-encoding")
            ):
                logger.warning("authhooks: dropped an invalid header from a Deny response")
                continue
            names.add(name.lower())
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        if "cache-control" not in names:
            headers.append(_NO_STORE)
        if deny.status == 401 and "www-authenticate" not in names:
            headers.append((b"www-authenticate", self._challenge.encode("latin-1")))
        body, content_type = self._deny_body(deny)
        if content_type is not None and "content-type" not in names:
            headers.append((b"content-type", content_type))
        return build(deny.status, headers, body)

    def _deny_body(self, deny: Deny) -> tuple[bytes, bytes | None]:
        body = deny.body
        if isinstance(body, bytes):
            return body, b"application/octet-stream" if body else None
        if isinstance(body, str):
            return body.encode("utf-8"), b"text/plain; charset=utf-8"
        if isinstance(body, Mapping):
            try:
                return dumps(dict(body)), _JSON
            except (TypeError, ValueError):
                logger.warning("authhooks: a Deny body is not JSON-serialisable; the default body was sent")
        return self._body(deny.status, deny.error, deny.reason, deny.description)

    def fault(self, exc: BaseException) -> Prepared:
        """503 for a fault (:data:`FAULTS`, :class:`HookFailed`), 500 for anything else; logs the type only."""
        status = 503 if isinstance(exc, (*FAULTS, HookFailed)) else 500
        logger.warning("authhooks: answered %d after %s", status, type(exc).__name__)
        return self.faults[status]

    def for_exception(self, exc: BaseException, *, challenge: bool = True) -> Prepared:
        """The response for anything raised by authhooks code: rejection, denial, fault or bug."""
        if isinstance(exc, HookFailed):
            return self.fault(exc)
        if isinstance(exc, AuthError):
            return self.error(exc, challenge=challenge)
        return self.fault(exc)  # a fault, or a bug in authhooks code: a generic 503/500


async def send_prepared(
    send: Callable[[dict[str, Any]], Awaitable[None]], response: Prepared, *, head: bool = False
) -> None:
    """Send ``response`` over ASGI (``head=True`` omits the body, for ``HEAD``)."""
    await send({"type": "http.response.start", "status": response.status, "headers": list(response.headers)})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
