"""Small, strict decoders for the encodings key identities use: base64/base64url and base58(check).

Kept free of third-party packages so the core verifiers need nothing beyond ``cryptography``. Every decoder
returns ``None`` (never raises) on malformed input, so callers turn garbage into a clean refusal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

__all__ = ["b58check_decode", "b58check_encode", "b58decode", "b58encode", "b64decode_any", "b64url_encode"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_B64STD = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_MAX_TEXT = 4096


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5), as JOSE and WebAuthn write it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_any(text: str) -> bytes | None:
    """Decode base64url or standard base64 (RFC 4648 §4/§5), padding optional; ``None`` when malformed."""
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return None
    if _B64URL.match(text):
        alphabet = b"-_"
    elif _B64STD.match(text):
        alphabet = b"+/"
    else:
        return None
    body = text.rstrip("=")
    if len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return None


def b58encode(data: bytes) -> str:
    """base58 (Bitcoin alphabet), leading zero bytes written as ``1``."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58[rem])
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes | None:
    """Decode base58 (Bitcoin alphabet); ``None`` for an empty, overlong or non-base58 string."""
    if not isinstance(text, str) or not text or len(text) > 256:
        return None
    n = 0
    for c in text:
        digit = _B58_INDEX.get(c)
        if digit is None:
            return None
        n = n * 58 + digit
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + body


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def b58check_encode(payload: bytes) -> str:
    """base58check: ``payload`` followed by the first 4 bytes of its double SHA-256."""
    return b58encode(payload + _checksum(payload))


def b58check_decode(text: str) -> bytes | None:
    """The payload of a base58check string, or ``None`` when it is malformed or its checksum is wrong."""
    raw = b58decode(text)
    if raw is None or len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    return payload if _checksum(payload) == check else None
