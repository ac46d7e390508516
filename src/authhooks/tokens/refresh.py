"""Pure helpers for opaque refresh tokens; the store-backed rotation and reuse detection live in the flows.

A refresh token is 256 random bits, base64url, prefixed ``ahr_`` so that secret scanners and people recognise
it. Stores keep only :func:`hash_refresh_token` of it: the token is high-entropy, so a plain SHA-256 is
already infeasible to invert and a slow password hash (or a salt) would add cost without adding safety; the
hash is deterministic, so it doubles as the lookup key.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["REFRESH_TOKEN_PREFIX", "RefreshRecord", "hash_refresh_token", "new_refresh_token"]

REFRESH_TOKEN_PREFIX = "ahr_"
RefreshState = Literal["active", "rotated"]
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def new_refresh_token() -> str:
    """A new opaque refresh token: ``ahr_`` + 256 random bits in base64url (43 characters)."""
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """The SHA-256 hex digest under which a refresh token is stored (see the module docstring)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """What the store keeps under a refresh token's hash.

    Attributes:
        family_id: the rotation family; reuse of a rotated token revokes the whole family.
        subject: the ``sub`` the family belongs to.
        claims: claims carried to each new access token (``scope``…), JSON-compatible.
        issued_at: when this token was issued (Unix seconds).
        expires_at: when the family expires (Unix seconds); rotation does not extend it.
        state: ``active``, or ``rotated`` once exchanged (a second use is a reuse).
    """

    family_id: str
    subject: str
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    issued_at: float = 0.0
    expires_at: float = 0.0
    state: RefreshState = "active"

    def rotated(self) -> RefreshRecord:
        """This record, marked ``rotated``."""
        return RefreshRecord(self.family_id, self.subject, self.claims, self.issued_at, self.expires_at, "rotated")

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON."""
        return json.dumps(
            {
                "family_id": self.family_id,
                "subject": self.subject,
                "claims": dict(self.claims),
                "issued_at": self.issued_at,
                "expires_at": self.expires_at,
                "state": self.state,
            },
            separators=(",", ":"),
            allow_nan=False,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> RefreshRecord:
        """Parse :meth:`to_bytes` output.

        Raises:
            ValueError: the data is not a well-formed record.
        """
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a refresh record")
        family, subject, claims = raw.get("family_id"), raw.get("subject"), raw.get("claims", {})
        issued, expires, state = raw.get("issued_at"), raw.get("expires_at"), raw.get("state")
        if not (isinstance(family, str) and isinstance(subject, str) and isinstance(claims, dict)):
            raise ValueError("not a refresh record")
        if not (isinstance(issued, (int, float)) and isinstance(expires, (int, float))):
            raise ValueError("not a refresh record")
        if state not in ("active", "rotated") or isinstance(issued, bool) or isinstance(expires, bool):
            raise ValueError("not a refresh record")
        return cls(family, subject, MappingProxyType(claims), float(issued), float(expires), state)
