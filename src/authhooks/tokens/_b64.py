"""Canonical base64url without padding (RFC 7515 §2, RFC 4648 §5).

A segment is accepted only in its one canonical spelling: the URL-safe alphabet, no ``=`` padding, no
whitespace, and zero unused trailing bits (RFC 4648 §3.5), so a token has exactly one encoding and two different
strings never verify as the same token.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["b64url_decode", "b64url_encode", "is_canonical"]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_TO_STD = bytes.maketrans(b"-_", b"+/")
_FROM_STD = bytes.maketrans(b"+/", b"-_")
_PAD = ("", "", "==", "=")
# The last character of a 2-char (resp. 3-char) final group must leave its low 4 (resp. 2) bits zero.
_CANONICAL_LAST = ("", "", frozenset("AQgw"), frozenset("AEIMQUYcgkosw048"))


def is_canonical(segment: str) -> bool:
    """True when ``segment`` is canonical unpadded base64url (alphabet, length and trailing bits)."""
    if _SEGMENT.fullmatch(segment) is None:
        return False
    rest = len(segment) & 3
    if rest == 1:
        return False
    return not rest or segment[-1] in _CANONICAL_LAST[rest]


def b64url_decode(segment: str) -> bytes:
    """Decode a canonical unpadded base64url segment.

    Raises:
        ValueError: the segment is not canonical base64url.
    """
    if not is_canonical(segment):
        raise ValueError("not canonical base64url")
    rest = len(segment) & 3
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STD) + _PAD[rest].encode("ascii"))


def b64url_encode(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).translate(_FROM_STD).rstrip(b"=").decode("ascii")
