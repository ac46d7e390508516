"""The ``session`` flow (sans-IO): browser sessions made, checked and ended (lback's session auth).

Points:

- ``session.created`` (notification): a login made a session (:func:`create_session`); when it replaced the
  session the request came with (rotation), that one first ends with ``reason`` ``rotated``.
- ``session.validated`` (decision): a cookie named a live session (:func:`validate_session`): hooks may enrich
  the ``principal`` or deny the request (the session lives on).
- ``session.ended`` (notification): ``reason`` ``logout``, ``rotated``, ``revoked`` (:func:`end_sessions`, or the
  login's tokens were invalidated), ``idle_timeout`` or ``absolute_timeout``.
- ``session.failed`` (notification): a cookie was refused (``session_malformed``, ``session_unknown``,
  ``idle_timeout``, ``absolute_timeout``).

Every instance reads the same store, and nothing about a session is cached in a process: a session ended in
one instance is refused by every other at its next request.

A session made by a login that also issued tokens records their refresh family: a logout (or ``end_sessions``)
ends that family too (its refresh tokens and access tokens), and a session whose family was ended (a logout with
the token) is refused and ends — one login, one logout, whatever the client sends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from authhooks.errors import AuthError, HookError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, flow
from authhooks.flows.revocation import revoke_family
from authhooks.hooks.points import CATALOGUE
from authhooks.records import Principal
from authhooks.sessions import (
    InvalidSession,
    SessionGrant,
    SessionInfo,
    SessionRecord,
    hash_session_id,
    new_session_id,
    seen_key,
    session_key,
    subject_key,
    well_formed,
)

__all__ = [
    "ValidSession",
    "create_session",
    "end_session",
    "end_sessions",
    "list_sessions",
    "new_session",
    "rotate_session",
    "validate_session",
]

_CREATED, _VALIDATED = CATALOGUE["session.created"], CATALOGUE["session.validated"]
_ENDED, _FAILED = CATALOGUE["session.ended"], CATALOGUE["session.failed"]


@dataclass(frozen=True, slots=True)
class ValidSession:
    """A cookie that named a live session: who it is, and the session's CSRF token (for unsafe methods)."""

    principal: Principal
    info: SessionInfo
    csrf: str


def _end(
    deps: FlowDeps, digest: str, record: SessionRecord | None, reason: str, end_login: bool = False
) -> FlowGen[bool]:
    """Delete one session (and, with ``end_login``, its login's refresh family) and fire ``session.ended`` when it
    existed."""
    existed = yield StoreCall("delete", (session_key(digest),))
    yield StoreCall("delete", (seen_key(digest),))
    if end_login and record is not None and record.family is not None:
        yield from revoke_family(deps, record.family, float(deps.settings.refresh_ttl_seconds))
    if record is not None:
        yield StoreCall("srem", (subject_key(record.subject), digest))
        if existed:
            info = record.info(digest, deps.now())
            yield RunHooks(_ENDED, {"subject": record.subject, "session": info, "reason": reason})
    return bool(existed)


def _seen(raw: bytes | None) -> float | None:
    """A last-use key's time, or ``None`` when it is gone (idle) or unreadable."""
    try:
        return None if raw is None else float(raw)
    except ValueError:
        return None


def _read(digest: str) -> FlowGen[SessionRecord | None]:
    """The stored session under ``digest``, or ``None`` when it is gone or unreadable."""
    raw = yield StoreCall("get", (session_key(digest),))
    if raw is None:
        return None
    try:
        return SessionRecord.from_bytes(raw)
    except (ValueError, KeyError, TypeError):
        return None


def _lookup(session_id: str) -> FlowGen[tuple[str, SessionRecord | None]]:
    digest = hash_session_id(session_id)
    return digest, (yield from _read(digest))


def _alive(deps: FlowDeps, digest: str, record: SessionRecord, now: float) -> FlowGen[float]:
    """The last use of a stored session that is still alive; a session past its absolute or idle timeout, or
    whose login's refresh family was ended, ends here.

    Raises:
        InvalidSession: ``absolute_timeout``, ``idle_timeout`` or ``session_revoked``.
    """
    seen = _seen((yield StoreCall("get", (seen_key(digest),))))
    if now >= record.expires_at:
        yield from _end(deps, digest, record, "absolute_timeout")
        raise InvalidSession(reason="absolute_timeout")
    if seen is None or now - seen >= deps.settings.session_idle_seconds:  # gone from the store: idle too
        yield from _end(deps, digest, record, "idle_timeout")
        raise InvalidSession(reason="idle_timeout")
    if record.family is not None and (yield StoreCall("get", (f"family:{record.family}:revoked",))) is not None:
        yield from _end(deps, digest, record, "revoked")  # the login's tokens were invalidated: so is it
        raise InvalidSession(reason="session_revoked")
    return seen


def new_session(
    deps: FlowDeps,
    principal: Principal,
    provider: str | None = None,
    replaces: str | None = None,
    family: str | None = None,
) -> FlowGen[SessionGrant]:
    """Make a session for ``principal``; end ``replaces`` (the id the request came with, if any) first, so a login
    or reauthentication never keeps an id that existed before it (fixation). ``family`` is the refresh family of
    tokens the same login issued (see the module docstring).

    The record expires from the store with the absolute timeout, its last-use key with the idle timeout (each use
    pushes it on); the subject's set of sessions lets :func:`end_sessions` find them all.
    """
    settings = deps.settings
    if replaces is not None and well_formed(replaces):
        digest, old = yield from _lookup(replaces)
        if old is not None:
            yield from _end(deps, digest, old, "rotated")
    now = deps.now()
    session_id = new_session_id()
    digest = hash_session_id(session_id)
    record = SessionRecord(
        principal.subject,
        principal.claims,
        principal.scopes,
        now,
        now + settings.session_absolute_seconds,
        secrets.token_urlsafe(24),
        provider,
        family,
    )
    idle = float(min(settings.session_idle_seconds, settings.session_absolute_seconds))
    yield Note(subject=principal.subject)
    yield StoreCall("set", (session_key(digest), record.to_bytes(), float(settings.session_absolute_seconds)))
    yield StoreCall("set", (seen_key(digest), repr(now).encode("ascii"), idle))
    yield StoreCall("sadd", (subject_key(principal.subject), digest, float(settings.session_absolute_seconds)))
    info = record.info(digest, now)
    granted = record.principal(digest)
    yield RunHooks(_CREATED, {"subject": principal.subject, "principal": granted, "session": info})
    return SessionGrant(session_id, record.csrf, info, granted)


create_session = flow(Flow.SESSION)(new_session)
"""The ``session`` flow making a session (:func:`new_session`'s steps, run as a flow of its own)."""


@flow(Flow.SESSION)
def validate_session(deps: FlowDeps, session_id: str) -> FlowGen[ValidSession]:
    """The live session ``session_id`` names, touched (its idle timeout restarts).

    Raises:
        InvalidSession: a malformed id, no such session (ended, tampered with, expired from the store), or an idle
            or absolute timeout (the session then ends); ``reason`` says which.
        Deny: a ``session.validated`` hook denied.
    """
    try:
        if not well_formed(session_id):
            raise InvalidSession(reason="session_malformed")
        digest, record = yield from _lookup(session_id)
        if record is None:
            raise InvalidSession(reason="session_unknown")
        yield Note(subject=record.subject)
        now = deps.now()
        settings = deps.settings
        seen = yield from _alive(deps, digest, record, now)
        # A write per request would cost the store more than it buys: the idle clock moves in steps of a
        # twentieth of the idle timeout (at most 5 % early). Only the last-use key is written: were another
        # instance to end the session meanwhile, the record stays gone.
        if now - seen >= settings.session_idle_seconds / 20:
            ttl = max(1.0, min(float(settings.session_idle_seconds), record.expires_at - now))
            yield StoreCall("set", (seen_key(digest), repr(now).encode("ascii"), ttl))
            seen = now
        info = record.info(digest, seen)
        values: dict[str, Any] = {"subject": record.subject, "principal": record.principal(digest), "session": info}
        yield RunHooks(_VALIDATED, values)
        principal = values["principal"]
        if not isinstance(principal, Principal):
            raise HookError("session.validated: 'principal' must stay a Principal")
        return ValidSession(principal, info, record.csrf)
    except AuthError as exc:
        yield Note(reason=exc.reason)
        yield RunHooks(_FAILED, {"reason": exc.reason, "error": exc})
        raise


@flow(Flow.SESSION)
def rotate_session(deps: FlowDeps, session_id: str) -> FlowGen[SessionGrant]:
    """Replace the live session ``session_id`` names by a new id for the same login (after a reauthentication:
    OWASP's "renew the session ID after any privilege level change"); the old id ends (``rotated``), the timeouts
    start again, the CSRF token is new. A session that is no longer live (past a timeout, or its login ended)
    is not renewed: it ends, as :func:`validate_session` would end it.

    Raises:
        InvalidSession: no live session behind ``session_id`` (``reason`` as :func:`validate_session`'s).
    """
    if not well_formed(session_id):
        raise InvalidSession(reason="session_malformed")
    digest, record = yield from _lookup(session_id)
    if record is None:
        raise InvalidSession(reason="session_unknown")
    yield from _alive(deps, digest, record, deps.now())
    principal = Principal(record.subject, claims=record.claims, scopes=record.scopes)
    grant: SessionGrant = yield from new_session(deps, principal, record.provider, session_id, record.family)
    return grant


@flow(Flow.SESSION)
def end_session(
    deps: FlowDeps, session_id: str | None = None, handle: str | None = None, reason: str = "logout"
) -> FlowGen[bool]:
    """End the session a cookie's ``session_id`` (or a listing's ``handle``) names; ``False`` when there was none."""
    if session_id is not None:
        if not well_formed(session_id):
            return False
        digest = hash_session_id(session_id)
    elif handle is not None and isinstance(handle, str) and len(handle) == 64:
        digest = handle
    else:
        return False
    record = yield from _read(digest)
    if record is not None:
        yield Note(subject=record.subject)
    return (yield from _end(deps, digest, record, reason, end_login=True))


@flow(Flow.SESSION)
def list_sessions(deps: FlowDeps, subject: str) -> FlowGen[list[SessionInfo]]:
    """The live sessions of ``subject``, oldest first (ended ones are dropped from its set on the way)."""
    digests = yield StoreCall("smembers", (subject_key(subject),))
    found: list[SessionInfo] = []
    for digest in sorted(digests):
        record = yield from _read(digest)
        seen = _seen((yield StoreCall("get", (seen_key(digest),)))) if record is not None else None
        if record is None or seen is None or record.subject != subject or deps.now() >= record.expires_at:
            yield StoreCall("srem", (subject_key(subject), digest))
            continue
        found.append(record.info(digest, seen))
    return sorted(found, key=lambda info: info.created_at)


@flow(Flow.SESSION)
def end_sessions(deps: FlowDeps, subject: str, reason: str = "revoked") -> FlowGen[int]:
    """End every session of ``subject`` (in every instance: they share the store); return how many ended."""
    yield Note(subject=subject)
    digests = yield StoreCall("smembers", (subject_key(subject),))
    ended = 0
    for digest in sorted(digests):
        record = yield from _read(digest)
        if record is not None and record.subject != subject:
            continue
        if (yield from _end(deps, digest, record, reason, end_login=True)):
            ended += 1
        yield StoreCall("srem", (subject_key(subject), digest))
    return ended
