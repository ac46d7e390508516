"""Property tests of the parsers: durations and dates round-trip, and a handlers mapping of any shape either loads
or is refused with a ConfigurationError (never another exception)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.handlers.facts import Proxies
from authhooks.handlers.loading import ACTIONS, KEYS, load
from authhooks.handlers.spec import Env
from authhooks.handlers.values import parse_date, parse_duration
from authhooks.hooks.points import CATALOGUE

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(UNITS)))
def test_durations(n: int, unit: str) -> None:
    assert parse_duration(f"{n}{unit}") == n * UNITS[unit]
    assert parse_date(f"{{now}}+{n}{unit}")(1000.0) == 1000.0 + n * UNITS[unit]
    assert parse_date(f"{{now}}-{n}{unit}")(1000.0) == 1000.0 - n * UNITS[unit]


@given(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2999, 1, 1), timezones=st.just(dt.timezone.utc)
    )
)
def test_iso_dates(when: dt.datetime) -> None:
    assert parse_date(when.isoformat())(0.0) == when.timestamp()
    assert parse_date(when.isoformat().replace("+00:00", "Z"))(0.0) == when.timestamp()


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=12))
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def table(keys: list[str], max_size: int) -> st.SearchStrategy[Any]:
    """A TOML table of up to ``max_size`` of the known ``keys``, each with any value; or any value instead."""
    return st.one_of(st.dictionaries(st.sampled_from(keys), values, max_size=max_size), values)


handler = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=10), values),
        "event": st.one_of(st.sampled_from(sorted(CATALOGUE)), values),
        "action": st.one_of(st.sampled_from(ACTIONS), values),
        "options": table(
            ["limit", "window", "key", "status", "url", "template", "claims", "failures", "duration"], max_size=4
        ),
        "conditions": table(
            ["outcome", "reason", "path", "client_ip", "claims", "failures", "scopes", "token", "subject"], max_size=3
        ),
        **{k: values for k in KEYS if k not in ("name", "event", "action", "options", "conditions")},
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(handler, max_size=3))
def test_any_mapping_loads_or_is_a_configuration_error(handlers: list[dict[str, Any]]) -> None:
    env = Env(Settings(), Proxies(), CATALOGUE, Path("fuzz.toml"), environ={})
    with contextlib.suppress(ConfigurationError):
        load({"handler": handlers}, env)
