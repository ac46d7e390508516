"""The value forms of a handlers file, parsed once at load: durations, date expressions and templates.

- A **duration** is a number of seconds (``90``, ``1.5``) or a string ``"<number><unit>"`` with the unit ``s``,
  ``m``, ``h``, ``d`` or ``w`` (``"30s"``, ``"15m"``, ``"180d"``).
- A **date** is a Unix time (a number), an ISO-8601 date-time (``"2026-01-31T12:00:00Z"``; without an offset it
  is UTC), a TOML date-time, or ``"{now}"`` optionally followed by ``+`` or ``-`` and a duration
  (``"{now}+10d"``, ``"{now}-5h"``, ``"{now}+30m"``), evaluated when the condition is checked.
- A **template** is a :meth:`str.format` string whose placeholders come from a fixed set named by the action
  (``"{handler}: {reason}"``); an unknown placeholder, an attribute or an index is a load error.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Iterable

__all__ = ["DateExpr", "parse_date", "parse_duration", "template_fields"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_NOW = re.compile(r"^\{now\}\s*(?:([+-])\s*(.+))?$")

DateExpr = Callable[[float], float]
"""``expr(now) -> Unix seconds``: a date compiled at load, evaluated against the clock of the check."""


def parse_duration(value: object) -> float:
    """Seconds in ``value`` (a non-negative number, or ``"<number><s|m|h|d|w>"``).

    Raises:
        ValueError: anything else (the message says what is expected).
    """
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 30, "30s", "15m", "2h" or "180d"')
    if isinstance(value, (int, float)):
        if value < 0 or value != value or value == float("inf"):
            raise ValueError(f"a duration must be a finite number of seconds >= 0, got {value}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is not None:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f'expected a duration such as 30, "30s", "15m", "2h" or "180d", got {value!r}')


def _constant(seconds: float) -> DateExpr:
    return lambda now: seconds


def _offset(sign: float, seconds: float) -> DateExpr:
    delta = sign * seconds
    return lambda now: now + delta


def parse_date(value: object) -> DateExpr:
    """Compile a date (see the module docstring) into a function of the current time.

    Raises:
        ValueError: not a date, an ISO-8601 date-time or a ``{now}`` expression.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a date, got {value!r}")
    if isinstance(value, (int, float)):
        return _constant(float(value))
    if isinstance(value, dt.datetime):
        return _constant(_aware(value).timestamp())
    if isinstance(value, dt.date):
        return _constant(dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp())
    if isinstance(value, str):
        match = _NOW.match(value.strip())
        if match is not None:
            if match.group(1) is None:
                return _offset(1.0, 0.0)
            return _offset(1.0 if match.group(1) == "+" else -1.0, parse_duration(match.group(2)))
        text = value.strip()
        if text.endswith(("Z", "z")):  # fromisoformat accepts "Z" only from Python 3.11
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _constant(_aware(parsed).timestamp())
    raise ValueError(
        f'expected a date: a Unix time, an ISO-8601 date-time or "{{now}}" with an offset such as '
        f'"{{now}}+10d", got {value!r}'
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def template_fields(template: str, allowed: Iterable[str]) -> tuple[str, ...]:
    """The placeholders of ``template``, checked against ``allowed``.

    Raises:
        ValueError: a malformed template, an unknown placeholder, or a placeholder with an attribute, index,
            conversion or format spec (``{a.b}``, ``{a[0]}``, ``{a!r}``): only plain names are safe.
    """
    allowed = frozenset(allowed)
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template ({exc})") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            import difflib

            hint = difflib.get_close_matches(name, sorted(allowed), n=1)
            suggestion = f"; did you mean {{{hint[0]}}}?" if hint else ""
            listed = ", ".join("{" + a + "}" for a in sorted(allowed))
            raise ValueError(f"unknown placeholder {{{name}}}{suggestion} (allowed: {listed})")
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} may not have a conversion or format spec")
        names.append(name)
    return tuple(dict.fromkeys(names))
