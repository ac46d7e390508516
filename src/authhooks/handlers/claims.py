"""``claims`` conditions: ``{claim, op, value}`` comparisons compiled once.

``claim`` names a claim (``"a.b"`` reaches into a JSON object claim when no claim is literally named so). ``op`` is
one of ``== != < <= > >= in matches exists``:

- ``exists``: the claim is present (``value = false``: absent); ``matches``: a string claim matches the regex;
- ``in``: the claim is one of the listed values (a list claim: shares one with them);
- the comparisons take a number (numbers compare), a string (strings compare), or a **date** — an ISO-8601
  date-time, a TOML date-time, or ``{now}`` with an offset (``{now}+10d``, ``{now}-5h``, ``{now}+30m``) — against
  which a NumericDate claim (or an ISO-8601 string claim) compares as a time. A claim of another type makes every
  comparison false except ``!=``.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from authhooks.handlers.facts import claims_of
from authhooks.handlers.spec import MISSING, Problem, check_keys, flag, string, suggestion
from authhooks.handlers.values import DateExpr, parse_date
from authhooks.records import RequestInfo
from authhooks.tokens._json import json_number

__all__ = ["OPS", "Test", "claim_test", "regex"]

OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "matches", "exists")

Test = Callable[[Mapping[str, Any], "RequestInfo | None"], bool]
"""A condition that needs no I/O: ``test(inputs, request)``."""


def regex(value: Any, where: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise Problem(where, f"expected a regular expression string, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise Problem(where, f"invalid regular expression ({exc})") from None


def _claim_getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    parts = tuple(path.split("."))

    def get(claims: Mapping[str, Any]) -> Any:
        if path in claims:
            return claims[path]
        value: Any = claims
        for part in parts:
            if not isinstance(value, Mapping) or part not in value:
                return MISSING
            value = value[part]
        return value

    return get


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_ORDER = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _is_date(value: Any) -> bool:
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    return isinstance(value, str) and (value.strip().startswith("{now}") or _ISO.match(value) is not None)


def _as_time(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return json_number(value)
    if isinstance(value, str) and _ISO.match(value):
        try:
            return parse_date(value)(0.0)
        except ValueError:
            return None
    return None


def claim_test(spec: Any, where: str, clock: Callable[[], float]) -> Test:
    if not isinstance(spec, Mapping):
        raise Problem(where, f"expected a table {{claim, op, value}}, got {spec!r}")
    check_keys(spec, ("claim", "op", "value"), where)
    get = _claim_getter(string(spec, "claim", where))
    op: str = string(spec, "op", where)
    if op not in OPS:
        raise Problem(f"{where}.op", f"unknown operator {op!r}{suggestion(op, OPS)} (known: {' '.join(OPS)})")
    if op == "exists":
        want = flag(spec, "value", where, True)
        return lambda inputs, request: (get(claims_of(inputs)) is not MISSING) is want
    if "value" not in spec:
        raise Problem(f"{where}.value", "is required")
    value = spec["value"]
    if op == "matches":
        search = regex(value, f"{where}.value").search
        return lambda inputs, request: isinstance(v := get(claims_of(inputs)), str) and search(v) is not None
    if op == "in":
        if not isinstance(value, list) or not value:
            raise Problem(f"{where}.value", "`in` takes a non-empty list")
        allowed = tuple(value)

        def member(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
            v = get(claims_of(inputs))
            if isinstance(v, list):
                return any(item in allowed for item in v)
            return v is not MISSING and v in allowed

        return member
    compare = _ORDER[op]
    if _is_date(value):
        try:
            date: DateExpr = parse_date(value)
        except ValueError as exc:
            raise Problem(f"{where}.value", str(exc)) from None

        def dated(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
            t = _as_time(get(claims_of(inputs)))
            return t is not None and bool(compare(t, date(clock())))

        return dated
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        if op in ("==", "!="):
            return lambda inputs, request: bool(compare(get(claims_of(inputs)), value))
        raise Problem(f"{where}.value", f"{op} compares numbers, strings or dates, got {value!r}")
    numeric = not isinstance(value, str)

    def ordered(inputs: Mapping[str, Any], request: RequestInfo | None) -> bool:
        v = get(claims_of(inputs))
        if v is MISSING or isinstance(v, bool):
            return op == "!="
        if numeric != isinstance(v, (int, float)) or (not numeric and not isinstance(v, str)):
            return op == "!="
        return bool(compare(v, value))

    return ordered
