"""The ``Authorization: Bearer`` header, parsed strictly (RFC 6750 §2.1; RFC 9110 §11.4).

HTTP-agnostic: the input is the raw header value as bytes (ASGI gives bytes; WSGI gives latin-1 ``str``, which
``.encode("latin-1")`` turns back into the same bytes).

``credentials = "Bearer" 1*SP b64token`` with ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
*"="``. The scheme is case-insensitive (RFC 9110 §11.1). The well-formed case is a single ``fullmatch`` of a
pre-compiled pattern; only a refusal takes the slow path that works out *which* refusal it is.
"""

from __future__ import annotations

import re

from authhooks.errors import InvalidRequest, MissingCredentials

__all__ = ["BEARER", "parse_authorization"]

BEARER = re.compile(rb"[ \t]*(?i:bearer) +([A-Za-z0-9\-._~+/]+=*)[ \t]*")
"""The whole header value of a well-formed Bearer credential; group 1 is the token."""

_B64TOKEN = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")


def parse_authorization(values: list[bytes]) -> str | None:
    """The Bearer token of a request, from every ``Authorization`` header value it carried.

    Args:
        values: the raw values of the ``Authorization`` headers, in order (usually zero or one).

    Returns:
        The token, or ``None`` when no ``Authorization`` header was sent.

    Raises:
        InvalidRequest: two ``Authorization`` headers, two credentials in one, an empty or malformed Bearer
            credential, non-ASCII bytes (RFC 6750 §3.1 ``invalid_request``, 400).
        MissingCredentials: a credential of another scheme (``Basic``…), reason ``unsupported_scheme``: to a
            Bearer resource that is no credential at all, so the answer is the bare challenge (RFC 6750 §3.1).
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("The request carries more than one Authorization header.", reason="duplicate_header")
    value = values[0]
    match = BEARER.fullmatch(value)
    if match is not None:
        return match.group(1).decode("ascii")
    _refuse(value)
    raise AssertionError("unreachable")  # pragma: no cover


def _refuse(value: bytes) -> None:
    """Raise the precise refusal for a header value that is not a well-formed Bearer credential."""
    stripped = value.strip(b" \t")
    if not stripped:
        raise InvalidRequest("The Authorization header is empty.", reason="malformed_header")
    if not stripped.isascii() or any((b < 0x20 and b != 0x09) or b == 0x7F for b in stripped):
        raise InvalidRequest("The Authorization header contains invalid characters.", reason="malformed_header")
    scheme, _, rest = stripped.partition(b" ")
    if scheme.lower() != b"bearer":
        if b"," in scheme or b"\t" in scheme or scheme.lower().startswith(b"bearer"):
            raise InvalidRequest("The Authorization header is malformed.", reason="malformed_header")
        raise MissingCredentials(reason="unsupported_scheme")
    rest = rest.strip(b" \t")
    if not rest:
        raise InvalidRequest("The Bearer token is empty.", reason="empty_token")
    if any(sep in rest for sep in (b" ", b"\t", b",")):
        raise InvalidRequest("The Authorization header carries more than one credential.", reason="two_credentials")
    if not _B64TOKEN.fullmatch(rest):
        raise InvalidRequest("The Bearer token has characters RFC 6750 does not allow.", reason="malformed_token")
    raise InvalidRequest("The Authorization header is malformed.", reason="malformed_header")
