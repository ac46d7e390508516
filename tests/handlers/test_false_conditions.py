"""A handler whose conditions are false is skipped before the hook chain's generator is built (the ``when=`` skip
of every plain hook, in the drivers' plain path); a true one still acts, a failing condition follows the policy,
and an observed flow still records the skip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authhooks.errors import Deny
from authhooks.hooks import dispatch
from authhooks.testing import HookRecorder

from .conftest import make_auth

HANDLERS = {
    "handler": [
        {"name": f"h{i}", "event": "challenge.pre", "action": "deny", "conditions": {"subject": f"^mallory-{i}$"}}
        for i in range(5)
    ]
}


def _no_chain(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the chain generator was entered")


def test_false_handlers_never_enter_the_chain_under_the_sync_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = make_auth(tmp_path, HANDLERS, telemetry=False)
    try:
        monkeypatch.setattr(dispatch, "chain", _no_chain)
        auth.sync.fire("challenge.pre", subject="alice", expire_minutes=5)
        with pytest.raises(Deny):  # a true condition: the handler runs, still without the generator
            auth.sync.fire("challenge.pre", subject="mallory-3", expire_minutes=5)
    finally:
        auth.close()


async def test_false_handlers_never_enter_the_chain_under_the_async_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = make_auth(tmp_path, HANDLERS, telemetry=False)
    try:
        monkeypatch.setattr(dispatch, "chain", _no_chain)
        await auth.fire("challenge.pre", subject="alice", expire_minutes=5)
        monkeypatch.undo()  # a true deny handler returns an awaitable on the loop: the chain awaits it
        with pytest.raises(Deny):
            await auth.fire("challenge.pre", subject="mallory-0", expire_minutes=5)
    finally:
        await auth.aclose()


def test_a_failing_condition_follows_the_hook_policy_in_the_plain_path(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, telemetry=False)
    ran: list[str] = []

    def broken(subject: str) -> bool:
        raise RuntimeError("condition broke")

    try:
        auth.add_hook("challenge.pre", lambda: ran.append("ignored"), name="a", inline=True, when=broken)
        auth.add_hook(
            "challenge.pre", lambda: ran.append("denied"), name="b", inline=True, when=broken, on_error="deny"
        )
        with pytest.raises(Deny) as denied:
            auth.sync.fire("challenge.pre", subject="alice", expire_minutes=5)
        assert denied.value.reason == "hook_error"
        assert ran == []  # a condition that raises is the hook's failure: the hook does not run
    finally:
        auth.close()


def test_an_observed_flow_still_records_the_skips(tmp_path: Path) -> None:
    auth = make_auth(tmp_path, HANDLERS, telemetry=False)
    recorder = HookRecorder()
    auth.add_observer(recorder)
    try:
        auth.sync.fire("challenge.pre", subject="alice", expire_minutes=5)
        assert recorder.names("challenge.pre") == [f"handler:h{i}" for i in range(5)]
        assert recorder.decisions() == ["skipped"] * 5
    finally:
        auth.close()


def _when(table: dict[str, Any], point: str) -> Any:
    from authhooks.config import Settings
    from authhooks.handlers.conditions import compile_conditions
    from authhooks.handlers.facts import Proxies
    from authhooks.handlers.registration import _condition_hook
    from authhooks.handlers.spec import Env
    from authhooks.hooks.points import CATALOGUE

    condition = compile_conditions(table, CATALOGUE[point], Env(Settings(), Proxies(), CATALOGUE), lambda: 0.0)
    assert condition is not None
    return _condition_hook(condition, CATALOGUE[point])


def test_the_compiled_condition_takes_only_the_inputs_it_reads() -> None:
    import inspect

    assert list(inspect.signature(_when({"subject": "^m"}, "challenge.pre")).parameters) == ["subject", "request"]
    assert "reason" in inspect.signature(_when({"reason": "x"}, "login.failed")).parameters
    assert "auth" in inspect.signature(_when({"locked": True}, "login.failed")).parameters  # a stored condition


def test_a_lone_regex_reads_its_input_directly_and_falls_back_to_the_fact() -> None:
    from authhooks import Principal

    at_challenge = _when({"subject": "^mallory-"}, "challenge.pre")
    assert at_challenge(subject="mallory-1") is True
    assert at_challenge(subject="alice") is False
    assert at_challenge(subject=None) is False
    at_post = _when({"subject": "^mallory-"}, "validate_token.post")  # no subject input: the principal's
    principal = Principal(subject="mallory-2", scopes=frozenset(), claims={})
    assert at_post(principal=principal) is True
    reason = _when({"reason": "^bad_"}, "login.failed")
    assert reason(reason="bad_signature") is True
    assert reason(reason="") is False and reason(reason=None) is False
