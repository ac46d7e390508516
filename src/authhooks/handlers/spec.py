"""Strict reading of a handlers file's tables: every key known, every value of its type, or a :class:`Problem`
naming the field (``options.limit``) and, for a near miss, the name that was meant.

The loader (:mod:`authhooks.handlers.loading`) turns a ``Problem`` into a
:class:`~authhooks.errors.ConfigurationError` naming the file and the line of the field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from authhooks.config import Settings
from authhooks.handlers.facts import Proxies
from authhooks.handlers.values import parse_duration
from authhooks.hooks.points import HookPoint

__all__ = [
    "MISSING",
    "Env",
    "Problem",
    "check_keys",
    "duration",
    "flag",
    "integer",
    "number",
    "string",
    "strings",
    "table",
]

MISSING: Final[Any] = object()


class Problem(ValueError):
    """A mistake in one field of one handler.

    Attributes:
        field: the dotted field name within the handler (``action``, ``options.window``, ``conditions.claims``).
        message: what is wrong, with a "did you mean" when a near name exists.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def suggestion(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the nearest of ``known``, or ``""``."""
    hint = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def check_keys(value: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Refuse a key of ``value`` outside ``known``, with a "did you mean"."""
    known = tuple(known)
    for key in value:
        if key not in known:
            field = f"{where}.{key}" if where else key
            listed = ", ".join(sorted(known)) or "none"
            raise Problem(field, f"unknown key{suggestion(key, known)} (known: {listed})")


def _field(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _get(value: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key in value:
        return value[key]
    if default is MISSING:
        raise Problem(_field(where, key), "is required")
    return default


def string(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING) -> Any:
    """A non-empty string (or ``default`` when absent)."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if not isinstance(got, str) or not got:
        raise Problem(_field(where, key), f"expected a non-empty string, got {_shown(got)}")
    return got


def strings(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING) -> Any:
    """A string or a list of strings, as a tuple (or ``default`` when absent)."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if isinstance(got, str) and got:
        return (got,)
    if isinstance(got, list) and got and all(isinstance(g, str) and g for g in got):
        return tuple(got)
    raise Problem(_field(where, key), f"expected a string or a non-empty list of strings, got {_shown(got)}")


def flag(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING) -> Any:
    """``true`` or ``false``."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if not isinstance(got, bool):
        raise Problem(_field(where, key), f"expected true or false, got {_shown(got)}")
    return got


def integer(
    value: Mapping[str, Any],
    key: str,
    where: str = "",
    default: Any = MISSING,
    low: int | None = None,
    high: int | None = None,
) -> Any:
    """An integer within ``[low, high]``."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if isinstance(got, bool) or not isinstance(got, int):
        raise Problem(_field(where, key), f"expected an integer, got {_shown(got)}")
    if (low is not None and got < low) or (high is not None and got > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Problem(_field(where, key), f"expected an integer {bounds}, got {got}")
    return got


def number(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING, low: float = 0.0) -> Any:
    """A finite number of at least ``low``."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if isinstance(got, bool) or not isinstance(got, (int, float)) or got != got or got in (float("inf"),):
        raise Problem(_field(where, key), f"expected a number, got {_shown(got)}")
    if got < low:
        raise Problem(_field(where, key), f"expected a number of at least {low}, got {got}")
    return float(got)


def duration(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING, positive: bool = True) -> Any:
    """A duration in seconds (``30``, ``"30s"``, ``"15m"``, ``"180d"``)."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    try:
        seconds = parse_duration(got)
    except ValueError as exc:
        raise Problem(_field(where, key), str(exc)) from None
    if positive and seconds <= 0:
        raise Problem(_field(where, key), "a duration must be more than 0")
    return seconds


def table(value: Mapping[str, Any], key: str, where: str = "", default: Any = MISSING) -> Any:
    """A TOML table (a mapping)."""
    got = _get(value, key, where, default)
    if got is default and key not in value:
        return got
    if not isinstance(got, Mapping):
        raise Problem(_field(where, key), f"expected a table, got {_shown(got)}")
    return got


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


@dataclass(frozen=True, slots=True)
class Env:
    """What compiling a handlers file needs besides the file.

    Attributes:
        settings: the :class:`~authhooks.config.Settings` of the ``AuthHooks`` (record_subject, trusted proxies).
        proxies: the trusted reverse proxies (``AUTHHOOKS_TRUSTED_PROXIES``).
        points: every declared hook point, by name.
        file: the handlers file (for messages), or ``None`` for a mapping.
        breakers: the webhook circuit breakers (:class:`~authhooks.handlers.breaker.Breakers`), shared by the
            handler sets of one ``AuthHooks`` so a reload keeps their state.
        environ: where ``secret_env`` variables are read (default ``os.environ``).
    """

    settings: Settings
    proxies: Proxies
    points: Mapping[str, HookPoint]
    file: Path | None = None
    breakers: Any = None
    environ: Mapping[str, str] | None = None
