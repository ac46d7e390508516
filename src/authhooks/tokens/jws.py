"""Strict compact JWS (RFC 7515 §3.1, §5.2, §7.1), for JWTs and any other payload.

Stricter than RFC 7515 requires, as RFC 8725 recommends:

- exactly three canonical base64url segments (no padding, no whitespace, zero trailing bits), a bounded token
  and a bounded header;
- the header is a strict JSON object (:mod:`authhooks.tokens._json`) with a string ``alg``; ``none`` in any
  spelling is refused (RFC 8725 §3.1), so is any algorithm the selected key does not allow;
- ``crit`` is refused, since authhooks understands no extension (RFC 7515 §4.1.11), and so is ``b64: false``
  (RFC 7797 §3, unencoded payloads are not accepted);
- ``jku``, ``x5u``, ``jwk`` and ``x5c`` are **ignored**: they never take part in key selection, which uses only
  the trusted key set and the ``kid`` (RFC 8725 §3.10). Ignoring (rather than refusing) keeps tokens of
  issuers that add ``x5c`` usable, and cannot change which key verifies.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from authhooks.errors import BadAlgorithm, BadSignature, MalformedToken
from authhooks.tokens._algorithms import ALGORITHMS, Verifier
from authhooks.tokens._json import loads_object
from authhooks.tokens.keys import Key
from authhooks.tokens.keyset import KeySet, cache_header

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_TOKEN_BYTES",
    "ParsedJWS",
    "VerifiedJWS",
    "parse_compact",
    "verify_compact",
]

MAX_TOKEN_BYTES = 8192
"""Default bound on a whole compact token."""
MAX_HEADER_BYTES = 2048
"""Bound on the encoded protected header."""

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
_TO_STD = bytes.maketrans(b"-_", b"+/")
_PAD = (b"", b"", b"==", b"=")
_LAST_OK = ("", "", frozenset("AQgw"), frozenset("AEIMQUYcgkosw048"))
_a2b = binascii.a2b_base64


@dataclass(frozen=True, slots=True, repr=False)
class ParsedJWS:
    """A compact JWS taken apart but **not verified**; use it only to route (e.g. read ``kid``).

    Attributes:
        header: the protected header (read-only).
        alg: its ``alg``.
        kid: its ``kid``, or ``None``.
        signing_input: ``BASE64URL(header) || '.' || BASE64URL(payload)`` (RFC 7515 §5.1 step 5).
        payload: the decoded payload bytes.
        signature: the decoded signature bytes.
    """

    header: Mapping[str, Any]
    alg: str
    kid: str | None
    signing_input: bytes
    payload: bytes
    signature: bytes

    def __repr__(self) -> str:
        return f"ParsedJWS(alg={self.alg!r}, kid={self.kid!r})"


@dataclass(frozen=True, slots=True, repr=False)
class VerifiedJWS:
    """A compact JWS whose signature verified.

    Attributes:
        header: the protected header (read-only).
        payload: the payload bytes, not interpreted.
        key: the key that verified the signature.
    """

    header: Mapping[str, Any]
    payload: bytes
    key: Key

    def __repr__(self) -> str:
        return f"VerifiedJWS(alg={self.header.get('alg')!r}, kid={self.key.kid!r})"


class HeaderEntry:
    """A checked protected header: what the fast path needs, computed once per distinct header segment."""

    __slots__ = ("alg", "candidates", "header", "kid", "typ")

    def __init__(self, header: Mapping[str, Any], alg: str, kid: str | None, typ: str | None) -> None:
        self.header = header
        self.alg = alg
        self.kid = kid
        self.typ = typ
        self.candidates: tuple[tuple[Key, Verifier], ...] = ()


def decode_segment(segment: str) -> bytes:
    """Decode a segment already known to be in the base64url alphabet; refuse non-canonical trailing bits.

    Raises:
        MalformedToken: a length of 1 mod 4 or non-zero unused bits (RFC 4648 §3.5).
    """
    rest = len(segment) & 3
    if rest:
        if rest == 1 or segment[-1] not in _LAST_OK[rest]:
            raise MalformedToken()
        return _a2b(segment.encode("ascii").translate(_TO_STD) + _PAD[rest])
    return _a2b(segment.encode("ascii").translate(_TO_STD))


def split_compact(token: str, max_bytes: int) -> list[str]:
    """Split a compact serialization into its three segments after the shape and size checks.

    Raises:
        MalformedToken: not a string, too long, or not three base64url segments (RFC 7515 §7.1).
    """
    if type(token) is not str or len(token) > max_bytes or _COMPACT.fullmatch(token) is None:
        raise MalformedToken()
    return token.split(".")


def normalize_typ(typ: str) -> str:
    """Normalize a ``typ`` media type: lower case, ``application/`` prefix dropped (RFC 7515 §4.1.9)."""
    typ = typ.lower()
    return typ[12:] if typ.startswith("application/") else typ


def parse_header(segment: str) -> HeaderEntry:
    """Decode and check a protected header segment (rules in the module docstring).

    Raises:
        MalformedToken: too long, not a strict JSON object, a non-string ``alg``/``kid``/``typ`` (``null``
            included), ``crit`` present, or ``b64`` other than ``true``.
        BadAlgorithm: ``alg`` is ``none`` or not an algorithm authhooks supports.
    """
    if len(segment) > MAX_HEADER_BYTES:
        raise MalformedToken()
    header = loads_object(decode_segment(segment))
    alg = header.get("alg")
    if type(alg) is not str:
        raise MalformedToken()
    if alg not in ALGORITHMS:  # "none", "NONE", "None"… are never in it (RFC 8725 §3.1)
        raise BadAlgorithm()
    if "crit" in header or header.get("b64", True) is not True:  # RFC 7515 §4.1.11, RFC 7797 §3
        raise MalformedToken()
    kid = header.get("kid")
    typ = header.get("typ")
    # RFC 7515 §4.1.4, §4.1.9: kid and typ are strings when present; ``null`` is not "absent".
    if ("kid" in header and type(kid) is not str) or ("typ" in header and type(typ) is not str):
        raise MalformedToken()
    if "cty" in header and type(header["cty"]) is not str:
        raise MalformedToken()
    return HeaderEntry(MappingProxyType(header), alg, kid, None if typ is None else normalize_typ(typ))


def parse_compact(token: str, *, max_bytes: int = MAX_TOKEN_BYTES) -> ParsedJWS:
    """Take a compact JWS apart and check its form, **without verifying** it (no I/O, no keys).

    Use the result to route, e.g. to ask a remote key set for ``kid``; never trust its payload.

    Raises:
        MalformedToken, BadAlgorithm: see :func:`parse_header` and :func:`split_compact`.
    """
    h, p, s = split_compact(token, max_bytes)
    entry = parse_header(h)
    return ParsedJWS(
        header=entry.header,
        alg=entry.alg,
        kid=entry.kid,
        signing_input=token[: len(h) + 1 + len(p)].encode("ascii"),
        payload=decode_segment(p),
        signature=decode_segment(s),
    )


def verify_segments(token: str, keys: KeySet, max_bytes: int) -> tuple[HeaderEntry, str, Key]:
    """Verify a compact JWS; return its header entry, its (still encoded) payload segment and the key.

    The building block of :func:`verify_compact` and the token validator. Verified headers are cached per
    key set by their exact segment, so a repeated header is neither decoded nor re-selected.

    Raises:
        MalformedToken, BadAlgorithm, UnknownKey, BadSignature.
    """
    h, p, s = split_compact(token, max_bytes)
    cache = keys.header_cache
    entry: HeaderEntry | None = cache.get(h)
    fresh = entry is None
    if entry is None:
        entry = parse_header(h)
        entry.candidates = keys.select(entry.kid, entry.alg)
    signature = decode_segment(s)
    signing_input = token[: len(h) + 1 + len(p)].encode("ascii")
    for key, verify in entry.candidates:
        if verify(signing_input, signature):
            if fresh:
                cache_header(keys, h, entry)
            return entry, p, key
    raise BadSignature()


def verify_compact(token: str, keys: KeySet, *, max_bytes: int = MAX_TOKEN_BYTES) -> VerifiedJWS:
    """Parse a compact JWS, select the key and verify the signature (RFC 7515 §5.2); no I/O.

    Serves any payload: the bytes are returned uninterpreted. Key selection: by ``kid`` when present, else
    among the few keys whose allow-list holds the header's ``alg`` (see :meth:`KeySet.select`).

    Raises:
        MalformedToken: bad form, size or header (RFC 7515 §7.1, §4.1.11).
        BadAlgorithm: ``none``, an unsupported algorithm, or one the key does not allow (RFC 8725 §3.1).
        UnknownKey: no usable key with this ``kid`` (RFC 7515 §4.1.4).
        BadSignature: the signature does not verify.
    """
    entry, p, key = verify_segments(token, keys, max_bytes)
    return VerifiedJWS(header=entry.header, payload=decode_segment(p), key=key)
