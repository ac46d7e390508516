"""Browser sessions: records, cookies and the cross-site checks (no I/O; the flows in
:mod:`authhooks.flows.session` store and fire hooks).

- The cookie holds an opaque id (``ahs_`` + 256 random bits); the store keeps only its SHA-256
  (``session:{hash}``), so a store dump opens no session, and any altered cookie names no session.
- ``__Host-authhooks_session``: ``Secure; HttpOnly; SameSite=Lax; Path=/`` and no ``Domain`` (RFC 6265bis §4.1.3.2:
  the ``__Host-`` prefix makes the browser refuse a cookie set otherwise, so a sibling subdomain cannot plant
  one). Browsers accept ``Secure`` cookies from ``http://localhost`` and ``http://127.0.0.1`` (potentially
  trustworthy origins); ``AUTHHOOKS_SESSION_INSECURE_COOKIE`` (development only) names it ``authhooks_session``
  without ``Secure`` for plain http elsewhere.
- Timeouts: idle (``session_idle_seconds`` since the last use) and absolute (``session_absolute_seconds`` since the
  login), checked with the injected clock. The record is written once (it expires with the absolute timeout); the
  last use lives in its own key (``session-seen:{hash}``, expiring with the idle timeout), so a use that touches
  it can never bring back a session another instance ended at the same moment.
- Rotation: a login or a reauthentication made with a session cookie ends that session and makes a new id
  (session fixation, OWASP Session Management Cheat Sheet).
- CSRF, for unsafe methods on a session (OWASP CSRF Prevention Cheat Sheet): ``Sec-Fetch-Site`` other than
  ``same-origin``/``none`` is refused; an ``Origin`` other than the request's own is refused; and the request
  must carry the session's CSRF token (``X-CSRF-Token`` header or a ``csrf_token`` form field), which the login
  also hands to scripts in the ``__Host-authhooks_csrf`` cookie (double submit).

Rejections (branches of the tree in :mod:`authhooks.errors`): :class:`InvalidSession` (401, no live session
behind the cookie) and its :class:`CsrfRefused` (403, an unsafe request that may come from another site).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from authhooks.config import Settings
from authhooks.errors import AuthError
from authhooks.records import Principal

__all__ = [
    "CSRF_COOKIE",
    "CsrfRefused",
    "InvalidSession",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SessionGrant",
    "SessionInfo",
    "SessionRecord",
    "check_csrf",
    "check_same_origin",
    "cookie_name",
    "grant_cookies",
    "csrf_cookie_name",
    "hash_session_id",
    "new_session_id",
    "session_cookie",
    "seen_key",
    "session_key",
    "subject_key",
]

SESSION_PREFIX = "ahs_"
_ID = re.compile(r"^ahs_[A-Za-z0-9_-]{43}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CSRF_COOKIE = "__Host-authhooks_csrf"


class InvalidSession(AuthError):
    """The session cookie names no live session: unknown, ended, tampered with, or timed out."""

    error = "invalid_token"
    status = 401
    default_reason = "session_unknown"
    default_description = "The session is not valid; sign in again."


class CsrfRefused(InvalidSession):
    """An unsafe request with a session cookie that failed the cross-site checks (``Origin``, ``Sec-Fetch-Site``,
    the CSRF token): OWASP CSRF Prevention Cheat Sheet, Fetch Metadata."""

    error = "access_denied"
    status = 403
    default_reason = "csrf_refused"
    default_description = "The request was refused as a possible cross-site request forgery."


def new_session_id() -> str:
    """A fresh opaque session id: ``ahs_`` and 256 random bits, base64url."""
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def well_formed(session_id: object) -> bool:
    """Whether ``session_id`` has the shape of an id :func:`new_session_id` makes (checked before any lookup)."""
    return isinstance(session_id, str) and _ID.match(session_id) is not None


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id (SHA-256, hex); also its public handle in listings and hooks."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def session_key(digest: str) -> str:
    """The store key of a session record."""
    return f"session:{digest}"


def seen_key(digest: str) -> str:
    """The store key of a session's last use (a Unix time, as ASCII)."""
    return f"session-seen:{digest}"


def subject_key(subject: str) -> str:
    """The store key of the set of a subject's sessions."""
    return "sessions:" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def cookie_name(insecure: bool = False) -> str:
    """The session cookie's name: ``__Host-authhooks_session``, or ``authhooks_session`` in insecure dev mode."""
    return "authhooks_session" if insecure else "__Host-authhooks_session"


def csrf_cookie_name(insecure: bool = False) -> str:
    """The CSRF cookie's name (see :func:`cookie_name`)."""
    return "authhooks_csrf" if insecure else CSRF_COOKIE


def session_cookie(
    name: str, value: str, max_age: int | None, *, http_only: bool = True, insecure: bool = False
) -> str:
    """A ``Set-Cookie`` value (RFC 6265bis §4.1): ``Path=/``, ``SameSite=Lax``, ``Secure`` unless ``insecure``,
    ``HttpOnly`` unless ``http_only`` is false; ``max_age`` 0 deletes it."""
    parts = [f"{name}={value}", "Path=/", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if not insecure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as stored (under :func:`session_key` of the id's hash).

    Attributes:
        subject: who is signed in.
        claims: the login's claims (read-only).
        scopes: the granted scopes.
        created_at: the login's Unix time (the absolute timeout counts from it).
        expires_at: ``created_at`` plus the absolute timeout.
        csrf: the session's CSRF token.
        provider: the OpenID provider of the login, if any.
        family: the refresh family (``sid``) of tokens issued by the same login, if any: ending the session ends
            it, and ending it (a logout with the token) ends the session.
    """

    subject: str
    claims: Mapping[str, Any]
    scopes: frozenset[str]
    created_at: float
    expires_at: float
    csrf: str
    provider: str | None = None
    family: str | None = None

    def to_bytes(self) -> bytes:
        """The stored form."""
        return json.dumps(
            {
                "sub": self.subject,
                "claims": dict(self.claims),
                "scopes": sorted(self.scopes),
                "created": self.created_at,
                "expires": self.expires_at,
                "csrf": self.csrf,
                "provider": self.provider,
                "family": self.family,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> SessionRecord:
        """Read the stored form.

        Raises:
            ValueError: not a session record.
        """
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("sub"), str) or not isinstance(data.get("csrf"), str):
            raise ValueError("not a session record")
        return cls(
            data["sub"],
            MappingProxyType(dict(data["claims"])),
            frozenset(data["scopes"]),
            float(data["created"]),
            float(data["expires"]),
            data["csrf"],
            data.get("provider"),
            data.get("family"),
        )

    def principal(self, handle: str) -> Principal:
        """The principal a request with this session acts as (``token_type`` ``session``)."""
        attributes: dict[str, Any] = {"session": handle}
        if self.provider is not None:
            attributes["provider"] = self.provider
        return Principal(
            subject=self.subject,
            claims=self.claims,
            scopes=self.scopes,
            token_type="session",
            attributes=MappingProxyType(attributes),
        )

    def info(self, handle: str, seen_at: float) -> SessionInfo:
        """What hooks and listings see (no secret), the last use being ``seen_at``."""
        return SessionInfo(handle, self.subject, self.created_at, seen_at, self.expires_at, self.provider)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as hooks and :meth:`AuthHooks.sessions` show it: never the cookie's id nor the CSRF token.

    Attributes:
        handle: the SHA-256 of the id (pass it to :meth:`AuthHooks.end_session`).
        seen_at: the last use (the idle timeout counts from it).
        subject / created_at / expires_at / provider: as in :class:`SessionRecord`.
    """

    handle: str
    subject: str
    created_at: float
    seen_at: float
    expires_at: float
    provider: str | None = None


@dataclass(frozen=True, slots=True, repr=False)
class SessionGrant:
    """A new session, to set as cookies: the id (``HttpOnly`` cookie) and the CSRF token (readable cookie).

    Attributes:
        session_id: the cookie's value; never log it.
        csrf: the CSRF token.
        info: the session as hooks see it.
        principal: who is signed in.
    """

    session_id: str
    csrf: str
    info: SessionInfo
    principal: Principal = field(compare=False)

    def __repr__(self) -> str:
        return f"SessionGrant(handle={self.info.handle[:12]!r}, subject={self.info.subject!r})"


def grant_cookies(grant: SessionGrant, settings: Settings) -> list[str]:
    """The ``Set-Cookie`` values that hand ``grant`` to the browser: the session id (``HttpOnly``) and the CSRF
    token (readable by scripts), each for the absolute timeout (what the middleware sends after a login; an app sets
    them itself after :meth:`AuthHooks.rotate_session`)."""
    insecure = settings.session_insecure_cookie
    age = settings.session_absolute_seconds
    return [
        session_cookie(cookie_name(insecure), grant.session_id, age, insecure=insecure),
        session_cookie(csrf_cookie_name(insecure), grant.csrf, age, http_only=False, insecure=insecure),
    ]


def check_csrf(
    method: str,
    *,
    own_origin: str,
    origin: str | None,
    fetch_site: str | None,
    token: str | None,
    expected: str,
) -> None:
    """Refuse an unsafe request made with a session cookie that may come from another site (see the module
    docstring); safe methods pass.

    Args:
        method: the request method.
        own_origin: ``scheme://host[:port]`` of the request itself.
        origin: its ``Origin`` header, if any.
        fetch_site: its ``Sec-Fetch-Site`` header, if any.
        token: the CSRF token it carries (header or form field), if any.
        expected: the session's CSRF token.

    Raises:
        CsrfRefused: ``reason`` ``csrf_cross_site`` (Fetch Metadata or Origin) or ``csrf_token_mismatch``.
    """
    if method.upper() in SAFE_METHODS:
        return
    check_same_origin(own_origin=own_origin, origin=origin, fetch_site=fetch_site)
    if token is None or not hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise CsrfRefused(reason="csrf_token_mismatch")


def check_same_origin(*, own_origin: str, origin: str | None, fetch_site: str | None) -> None:
    """Refuse a request that a browser marks as coming from another site: ``Sec-Fetch-Site`` other than
    ``same-origin``/``none``, or an ``Origin`` other than the request's own (Fetch Metadata; RFC 6454 §7). The
    part of :func:`check_csrf` that needs no session: a login that sets a session cookie runs it, so a page of
    another site cannot sign the browser in to an account of its choosing (login CSRF: OWASP CSRF Prevention
    Cheat Sheet, "Login CSRF").

    Raises:
        CsrfRefused: ``reason`` ``csrf_cross_site``.
    """
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        raise CsrfRefused(reason="csrf_cross_site")
    if origin is not None and origin.lower() != own_origin.lower():
        raise CsrfRefused(reason="csrf_cross_site")
