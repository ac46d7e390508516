"""A traceback through a hook names it: the generated caller is compiled as ``<hook NAME at POINT>``."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import pytest

from authhooks import AuthHooks


@pytest.fixture
def engine() -> Iterator[AuthHooks]:
    auth = AuthHooks(store_url="memory://")
    yield auth
    auth.close(timeout=2.0)


def _traceback_of(auth: AuthHooks) -> str:
    with pytest.raises(RuntimeError, match="account store down") as info:
        auth.sync.fire("login.pre", subject="alice")
    return "".join(traceback.format_exception(info.type, info.value, info.tb))


def _store_down(**_: object) -> bool:
    raise RuntimeError("account store down")


def test_a_failing_hook_is_named_in_its_traceback(engine: AuthHooks) -> None:
    engine.add_hook("login.pre", _store_down, name="deny_locked_accounts", on_error="raise", inline=True)

    text = _traceback_of(engine)

    assert 'File "<hook deny_locked_accounts at login.pre>", line 1, in <lambda>' in text
    assert "<string>" not in text


def test_a_failing_condition_is_named_in_its_traceback(engine: AuthHooks) -> None:
    engine.add_hook(
        "login.pre", lambda subject: None, name="deny_locked_accounts", when=_store_down, on_error="raise", inline=True
    )

    text = _traceback_of(engine)

    assert 'File "<hook deny_locked_accounts condition at login.pre>", line 1, in <lambda>' in text
