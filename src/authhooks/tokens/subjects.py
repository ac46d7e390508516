"""A subject's not-before mark: every token and refresh family of a subject issued before it is refused.

``auth.revoke_subject(subject)`` (a compromised account, a password reset, the ``revoke_tokens`` handler action)
stores the mark under ``subject-nbf:<sha256(subject)>`` and publishes :data:`SUBJECT_REVOKED_PREFIX` + the subject
on the revocation channel (:data:`~authhooks.tokens.service.REVOCATION_CHANNEL`), so every instance evicts that
subject's validated tokens from its cache at once (:meth:`~authhooks.tokens.cache.ValidatedTokenCache.drop_subject`).

Cost: the mark is read only when a token is checked in full (a cache miss, next to the ``jti``/``sid`` revocation
lookups) and when a refresh token is exchanged; a cache hit reads nothing, which is sound because the subject
message evicts the subject's entries and starts a new cache epoch (a validation in flight is not cached), and
while the feed is down the cache is bypassed (see :data:`~authhooks.tokens.service.REVOCATION_CHANNEL`).

Granularity: ``iat`` has whole seconds (RFC 7519 §4.1.6 NumericDate, as issued here), so the mark is the second
after the revocation: a token issued in the same second as the revocation is refused too (fail closed); a new
login a second later is valid. The mark is kept as long as a token issued before it can live: the longer of the
access and refresh lifetimes, plus the leeway.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any

__all__ = [
    "SUBJECT_REVOKED_PREFIX",
    "issued_before_mark",
    "mark_key",
    "mark_ttl",
    "new_mark",
    "subject_message",
    "subject_revocation",
]

SUBJECT_REVOKED_PREFIX = b"\x00subject-revoked "
"""Marks a subject revocation on the revocation channel: the message is this prefix + the subject in UTF-8."""


@functools.lru_cache(maxsize=4096)
def mark_key(subject: str) -> str:
    """The store key of ``subject``'s mark (hashed: bounded length, no separator of the key space in it)."""
    return "subject-nbf:" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def new_mark(now: float) -> bytes:
    """The mark for a revocation at ``now``: the next whole second (tokens with ``iat`` below it are refused)."""
    return str(math.floor(now) + 1).encode("ascii")


def mark_ttl(settings: Any) -> float:
    """How long a mark is kept: as long as a token or refresh family issued before it can be valid."""
    return float(max(settings.access_ttl_seconds, settings.refresh_ttl_seconds) + settings.leeway_seconds)


def issued_before_mark(issued_at: Any, raw_mark: bytes | None) -> bool:
    """Whether a token (its ``iat``) or refresh token (its ``issued_at``) falls under the stored mark ``raw_mark``
    (``None``: no mark). A missing or non-numeric ``iat`` falls under any mark (fail closed); a mark that does
    not parse refuses everything of the subject."""
    if raw_mark is None:
        return False
    try:
        mark = int(raw_mark)
    except ValueError:
        return True
    return not (isinstance(issued_at, (int, float)) and not isinstance(issued_at, bool)) or issued_at < mark


def subject_message(subject: str) -> bytes:
    """The channel message that evicts ``subject``'s cached tokens in every instance."""
    return SUBJECT_REVOKED_PREFIX + subject.encode("utf-8", "surrogatepass")


def subject_revocation(subject: str, now: float, settings: Any) -> tuple[str, bytes, float, bytes]:
    """What revoking ``subject`` at ``now`` writes: ``(store key, mark, ttl, channel message)``.

    Raises:
        ValueError: ``subject`` is not a non-empty string.
    """
    if type(subject) is not str or not subject:
        raise ValueError("revoke_subject needs a non-empty subject string")
    return mark_key(subject), new_mark(now), mark_ttl(settings), subject_message(subject)
