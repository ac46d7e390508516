"""Strict JSON for JOSE headers and claims (RFC 7515 §4, RFC 7519 §7.2, RFC 8259 §4 and §8.1).

The standard ``json`` module accepts more than a security token should: other encodings than UTF-8, duplicate
member names (the last one silently wins, so two parsers may see two different tokens), ``NaN`` and
``Infinity``. :func:`loads_object` refuses all of them and anything but an object at the top level, and bounds
the number of members of every object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from authhooks.errors import MalformedToken

__all__ = ["MAX_MEMBERS", "json_number", "loads_object"]

MAX_MEMBERS = 256
"""The most members any one JSON object may have."""


def json_number(value: int | float) -> float:
    """A JSON number as a float. An integer too large for a float (``1`` and 400 zeros: JSON integers have no
    bound and the parser keeps them exact) becomes ``inf`` or ``-inf``, as a too-large fraction (``1e400``) does
    when parsed, instead of raising ``OverflowError``; callers that need finite numbers check them."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    # Fewer keys than pairs means a member name appeared twice (RFC 7515 §5.2 step 4, RFC 7519 §7.2 step 4).
    if len(obj) != len(pairs) or len(pairs) > MAX_MEMBERS:
        raise ValueError("duplicate or too many members")
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
_decode = _DECODER.decode
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
# the C scanner: skips decode()'s two whitespace regex matches


def loads_object(data: bytes) -> dict[str, Any]:
    """Parse ``data`` as a UTF-8 JSON object without duplicate member names, ``NaN`` or ``Infinity``.

    Numbers too large for a float (``1e400``) become ``inf``; callers that need finite numbers check them.

    Raises:
        MalformedToken: ``data`` is not such an object (the message never includes ``data``).
    """
    try:
        text = data.decode("utf-8")
        try:
            obj, end = _scan(text, 0)
        except StopIteration:  # leading whitespace, or not JSON: let the full decoder decide
            end = -1
        if end != len(text):
            obj = _decode(text)  # surrounding whitespace is legal JSON; anything else raises
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedToken() from None
    if type(obj) is not dict:
        raise MalformedToken()
    return obj
