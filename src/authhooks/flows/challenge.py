"""Challenge-response (sans-IO): the ``challenge`` flow, and the check both the login and the reauthentication
providers run (:func:`challenge_response`, which verifies through the ``verify_signature`` flow).

A challenge is a one-time message for one subject, in the spirit of Sign-In with Ethereum (EIP-4361) and
Evrmore Authentication's challenge text::

    example.com wants you to sign in with your key:
    did:key:z6Mk…

    Sign this message to prove that you hold the key. It is valid once, until the expiration time.

    Nonce: 3kV9…
    Issued At: 2025-01-01T12:00:00Z
    Expiration Time: 2025-01-01T12:05:00Z

Store layout (keys are prefixed by the store backend):

=================== ===========================================================================================
``challenge:<nonce>`` the :class:`Challenge` as JSON; expires ``EXPIRED_GRACE_SECONDS`` after the challenge, so
                    a late answer is told ``challenge_expired`` rather than ``challenge_unknown``
=================== ===========================================================================================

The nonce is 192 random bits (``secrets.token_urlsafe(24)``); a challenge is taken from the store atomically
(:meth:`~authhooks.stores.base.Store.take`), so of concurrent answers exactly one can succeed, and any answer,
right or wrong, uses it up.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from authhooks.errors import HookError, InvalidCredentials, InvalidRequest, StoreError
from authhooks.events import Flow
from authhooks.flows.deps import FlowDeps
from authhooks.flows.effects import FlowGen, Note, RunHooks, StoreCall, SubFlow, flow
from authhooks.flows.verify_signature import verify_signature
from authhooks.hooks.points import CATALOGUE
from authhooks.verifiers.base import Verifier

__all__ = [
    "EXPIRED_GRACE_SECONDS",
    "MAX_EXPIRE_MINUTES",
    "Challenge",
    "challenge",
    "challenge_message",
    "challenge_response",
    "validate_subject",
]

MAX_EXPIRE_MINUTES = 1440.0
"""The longest a challenge may live (one day), whoever sets the expiry."""
EXPIRED_GRACE_SECONDS = 60.0
"""How long an expired challenge stays in the store so a late answer gets the reason ``challenge_expired``."""
MAX_SUBJECT_CHARS = 512
_MAX_METADATA_BYTES = 4096
_MAX_CHALLENGE_CHARS = 4096
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32}$")
_NONCE_LINE = re.compile(r"^Nonce: ([A-Za-z0-9_-]{32})$", re.MULTILINE)
# Line and paragraph separators would let a subject add lines to the challenge message.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DUMMY_MESSAGE = b"authhooks: no challenge to verify against"
_EMPTY: Mapping[str, Any] = MappingProxyType({})

_CH_PRE, _CH_POST = CATALOGUE["challenge.pre"], CATALOGUE["challenge.post"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_subject(subject: object) -> str:
    """Return ``subject`` when it is a non-empty string of at most 512 characters without control characters.

    Raises:
        InvalidRequest: (reason ``invalid_subject``) otherwise; the message never quotes the subject.
    """
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_CHARS or _FORBIDDEN.search(subject):
        raise InvalidRequest("The subject is missing or malformed.", reason="invalid_subject")
    return subject


def _minutes(value: object) -> float | None:
    """``value`` as a valid expiry in minutes (positive, finite, at most a day), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    minutes = float(value)
    return minutes if math.isfinite(minutes) and 0 < minutes <= MAX_EXPIRE_MINUTES else None


def challenge_message(service: str, subject: str, nonce: str, issued_at: float, expires_at: float) -> str:
    """The human-readable text the subject signs (see the module docstring)."""
    service = _FORBIDDEN.sub(" ", service)
    return (
        f"{service} wants you to sign in with your key:\n{subject}\n\n"
        "Sign this message to prove that you hold the key. It is valid once, until the expiration time.\n\n"
        f"Nonce: {nonce}\nIssued At: {_iso(issued_at)}\nExpiration Time: {_iso(expires_at)}"
    )


@dataclass(frozen=True, slots=True)
class Challenge:
    """A one-time login challenge.

    Attributes:
        subject: who must sign it.
        nonce: 192 random bits, base64url (32 characters); the client sends it back with the signature.
        issued_at: Unix time of issue.
        expires_at: Unix time after which an answer is refused.
        message: the exact text to sign (UTF-8).
        metadata: what the caller and ``challenge.pre`` hooks attached (JSON-able), kept with the challenge.
    """

    subject: str
    nonce: str
    issued_at: float
    expires_at: float
    message: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def expires_in(self) -> int:
        """Whole seconds from issue to expiry."""
        return round(self.expires_at - self.issued_at)

    def to_dict(self) -> dict[str, Any]:
        """The JSON body a challenge route answers with (times in ISO 8601 UTC)."""
        return {
            "subject": self.subject,
            "nonce": self.nonce,
            "message": self.message,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
            "expires_in": self.expires_in,
        }

    def to_bytes(self) -> bytes:
        """The stored form."""
        record = {
            "s": self.subject,
            "n": self.nonce,
            "i": self.issued_at,
            "e": self.expires_at,
            "m": self.message,
            "d": dict(self.metadata),
        }
        return json.dumps(record, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> Challenge | None:
        """The challenge stored as ``raw``, or ``None`` when absent or unreadable."""
        if raw is None:
            return None
        try:
            r = json.loads(raw)
            return cls(r["s"], r["n"], float(r["i"]), float(r["e"]), r["m"], MappingProxyType(dict(r["d"])))
        except (ValueError, KeyError, TypeError):
            return None


def _key(nonce: str) -> str:
    return f"challenge:{nonce}"


def _metadata(value: object, error: type[Exception]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error("challenge metadata must be a mapping")
    try:
        size = len(json.dumps(dict(value)))
    except (TypeError, ValueError):
        raise error("challenge metadata must be JSON-serialisable") from None
    if size > _MAX_METADATA_BYTES:
        raise error(f"challenge metadata must be at most {_MAX_METADATA_BYTES} bytes of JSON")
    return dict(value)


@flow(Flow.CHALLENGE)
def challenge(
    deps: FlowDeps,
    subject: str,
    expire_minutes: float | None,
    metadata: Mapping[str, Any] | None,
    scheme: str | None = None,
) -> FlowGen[Challenge]:
    """The ``challenge`` flow: validate, run ``challenge.pre``, store the challenge, run ``challenge.post``.

    With a ``scheme``, the subject must be a key identity of that scheme (its verifier's ``normalize_subject``)
    and the challenge is issued for its canonical form, so a subject that can never sign is refused now rather
    than at login.

    Raises:
        InvalidRequest: a malformed subject (reason ``invalid_subject``, also for a subject that is not a key of
            ``scheme``), an unknown ``scheme`` (``unsupported_scheme``), a malformed expiry (not in ``(0, 1440]``
            minutes) or metadata.
        HookError: a ``challenge.pre`` hook set an invalid subject, expiry or metadata.
        Deny: a ``challenge.pre`` hook denied (rate limiting).
    """
    subject = validate_subject(subject)
    if scheme is not None:
        subject = deps.verifiers.get(scheme).normalize_subject(subject)
    yield Note(subject=subject)
    if expire_minutes is None:
        expire_minutes = deps.settings.challenge_ttl_seconds / 60.0
    elif _minutes(expire_minutes) is None:
        raise InvalidRequest("expire_minutes must be a number in (0, 1440].", reason="invalid_expiry")
    values: dict[str, Any] = {
        "subject": subject,
        "expire_minutes": expire_minutes,
        "metadata": _metadata(metadata, InvalidRequest),
    }
    yield RunHooks(_CH_PRE, values)
    try:
        subject = validate_subject(values["subject"])
    except InvalidRequest:
        raise HookError("a challenge.pre hook set an invalid subject") from None
    minutes = _minutes(values["expire_minutes"])
    if minutes is None:
        raise HookError(f"a challenge.pre hook set expire_minutes to {values['expire_minutes']!r}; expected (0, 1440]")
    meta = _metadata(values["metadata"], HookError)
    issued_at = deps.now()
    expires_at = issued_at + minutes * 60.0
    nonce = secrets.token_urlsafe(24)
    message = challenge_message(deps.settings.service_name, subject, nonce, issued_at, expires_at)
    issued = Challenge(subject, nonce, issued_at, expires_at, message, MappingProxyType(meta))
    stored = yield StoreCall("add", (_key(nonce), issued.to_bytes(), minutes * 60.0 + EXPIRED_GRACE_SECONDS))
    if not stored:  # 192 random bits collided: the random source is broken, not the client
        raise StoreError("a fresh challenge nonce already exists in the store")
    yield RunHooks(_CH_POST, {"subject": subject, "challenge": issued, "expires_at": expires_at})
    return issued


def _parse(challenge: str) -> tuple[str | None, str | None]:
    """``(nonce, message)`` from what the client sent back: the bare nonce, or the whole message."""
    if _NONCE.match(challenge):
        return challenge, None
    if len(challenge) <= _MAX_CHALLENGE_CHARS:
        found = _NONCE_LINE.search(challenge)
        if found:
            return found.group(1), challenge
    return None, None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def challenge_response(deps: FlowDeps, subject: str, credentials: Mapping[str, Any], scheme: str) -> FlowGen[str]:
    """Check an answer to a challenge; return the subject in the scheme's canonical form.

    ``credentials`` holds ``challenge`` (the nonce, or the exact message) and ``signature`` (text, as the
    scheme's verifier reads it). The challenge is taken from the store first (used up whatever follows), then
    checked in this order, each failure raising :class:`~authhooks.errors.InvalidCredentials` with its reason:

    ========================== ===============================================================================
    ``challenge_unknown``      no such challenge: never issued, already used (a replay), or long expired
    ``challenge_tampered``     the message sent back is not the one issued for that nonce
    ``challenge_subject_mismatch`` the challenge was issued for another subject
    ``challenge_expired``      answered after its expiry
    ``bad_signature``          the signature does not verify (through the ``verify_signature`` flow)
    ========================== ===============================================================================

    Every failure takes the same path: when the challenge cannot be used, the signature is still verified
    against a dummy message, so timing does not tell a missing challenge from a bad signature. Status, error
    code and description are the same for all; only the low-cardinality ``reason`` differs.

    Raises:
        InvalidRequest: unsupported scheme, malformed subject, or missing ``challenge``/``signature``.
        InvalidCredentials: as above.
    """
    verifier = deps.verifiers.get(scheme)
    subject = verifier.normalize_subject(subject)
    challenge, signature = credentials.get("challenge"), credentials.get("signature")
    if not isinstance(challenge, str) or not isinstance(signature, str) or not challenge or not signature:
        raise InvalidRequest("A challenge and a signature are required.", reason="missing_challenge")
    nonce, sent_message = _parse(challenge)
    record = None
    if nonce is not None:
        record = Challenge.from_bytes((yield StoreCall("take", (_key(nonce),))))
    reason: str | None = None
    if record is None:
        reason = "challenge_unknown"
    elif sent_message is not None and not _same(sent_message, record.message):
        reason = "challenge_tampered"
    elif not _same(_canonical(verifier, record.subject), subject):
        reason = "challenge_subject_mismatch"
    elif deps.now() > record.expires_at:
        reason = "challenge_expired"
    if reason is not None or record is None:
        verifier.verify(subject, _DUMMY_MESSAGE, signature)  # same work as a real check (see docstring)
        yield Note(reason=reason)
        raise InvalidCredentials(reason=reason)
    valid = yield SubFlow(verify_signature(deps, subject, record.message, signature, scheme))
    if not valid:
        yield Note(reason="bad_signature")
        raise InvalidCredentials(reason="bad_signature")
    return subject


def _canonical(verifier: Verifier, subject: str) -> str:
    try:
        canonical: str = verifier.normalize_subject(subject)
    except InvalidRequest:
        return ""
    return canonical
