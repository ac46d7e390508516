"""The core flows stepped by hand (``authhooks.testing.FlowStepper``): each effect seen, answered or faulted, with
no store, network or driver involved — what the sans-IO design is for."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authhooks import AuthHooks, InvalidGrant, Principal, RevokedToken, StoreError, StoreUnavailableError
from authhooks.flows.challenge import challenge
from authhooks.flows.effects import Effect, RunHooks, StoreCall
from authhooks.flows.invalidate_token import invalidate_token
from authhooks.flows.login import login
from authhooks.flows.refresh_token import refresh_token
from authhooks.flows.validate_token import validate_token
from authhooks.testing import FlowStepper
from authhooks.tokens.refresh import RefreshRecord
from authhooks.tokens.subjects import mark_key


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthHooks]:
    engine = AuthHooks(store_url="memory://", state_dir=tmp_path, telemetry=False)
    yield engine
    engine.close()


def _points(stepper: FlowStepper[Any]) -> list[str]:
    return [e.point.name for e in stepper.effects if isinstance(e, RunHooks)]


def _ops(stepper: FlowStepper[Any]) -> list[tuple[str, str]]:
    return [(e.op, str(e.args[0])) for e in stepper.effects if isinstance(e, StoreCall)]


def test_validate_token_checks_jti_then_login_and_fails_closed_on_a_store_fault(auth: AuthHooks) -> None:
    pair = auth.sync.issue_tokens("alice")
    principal = FlowStepper(validate_token(auth.deps, pair.access_token))
    assert principal.run({"get_many": [None, None, None]}).subject == "alice"
    sid = principal.result.claims["sid"] if principal.result else None
    lookups = [e for e in principal.effects if isinstance(e, StoreCall)]
    assert len(lookups) == 1 and lookups[0].op == "get_many"  # one round trip for every revocation lookup
    assert lookups[0].args[0] == [
        f"revoked:{principal.result.jti if principal.result else ''}",
        f"family:{sid}:revoked",
        mark_key("alice"),  # the subject's not-before mark (auth.revoke_subject)
    ]
    # the nested verify_signature flow is stepped into (a driver folds it in when it has no hooks)
    assert _points(principal) == [
        "validate_token.pre",
        "verify_signature.pre",
        "verify_signature.post",
        "validate_token.post",
    ]

    faulted = FlowStepper(validate_token(auth.deps, pair.access_token))
    auth.tokens.cache.clear()
    with pytest.raises(StoreUnavailableError):
        faulted.run({"get_many": StoreUnavailableError()})
    assert _points(faulted)[-1] == "validate_token.failed"


def test_validate_token_refuses_a_token_of_an_ended_login(auth: AuthHooks) -> None:
    pair = auth.sync.issue_tokens("alice")

    def answer(effect: Effect) -> Any:
        if isinstance(effect, StoreCall):
            return [b"1" if key.startswith("family:") else None for key in effect.args[0]]
        return None

    stepper = FlowStepper(validate_token(auth.deps, pair.access_token))
    with pytest.raises(RevokedToken):
        stepper.run(answer)
    assert auth.tokens.cache.get(pair.access_token) is None


def test_refresh_token_reuse_ends_the_login_and_reports_it(auth: AuthHooks) -> None:
    pair = auth.sync.issue_tokens("alice")
    record = RefreshRecord("fam1", "alice", {}, 0.0, auth.clock() + 3600)
    stepper = FlowStepper(refresh_token(auth.deps, str(pair.refresh_token)))
    answers = {"add": False, "set": None, "smembers": frozenset({"j1 99999999999"}), "publish": None}

    def answer(effect: Effect) -> Any:
        if isinstance(effect, StoreCall) and effect.op == "get":  # the record; no subject mark
            return record.to_bytes() if effect.args[0].startswith("refresh:") else None
        return answers.get(effect.op) if isinstance(effect, StoreCall) else None

    with pytest.raises(InvalidGrant) as caught:
        stepper.run(answer)
    assert caught.value.reason == "refresh_token_reused"
    ops = _ops(stepper)
    assert ("set", "family:fam1:revoked") in ops and ("set", "revoked:j1") in ops and ("publish", "revocations") in ops
    failed = [e for e in stepper.effects if isinstance(e, RunHooks) and e.point.name == "refresh_token.failed"]
    assert failed and failed[0].values["family_revoked"] is True and failed[0].values["family"] == "fam1"


def test_invalidate_token_with_the_access_token_ends_the_whole_login(auth: AuthHooks) -> None:
    pair = auth.sync.issue_tokens("alice")
    sid = auth.sync.validate_token(pair.access_token).claims["sid"]
    stepper = FlowStepper(invalidate_token(auth.deps, pair.access_token))
    assert stepper.run({"set": None, "publish": None, "smembers": frozenset()}) is True
    assert ("set", f"family:{sid}:revoked") in _ops(stepper)


def test_challenge_with_a_colliding_nonce_is_a_fault_not_a_client_error(auth: AuthHooks) -> None:
    stepper = FlowStepper(challenge(auth.deps, "alice", None, None))
    with pytest.raises(StoreError):
        stepper.run({"add": False})
    assert _points(stepper) == ["challenge.pre"]


def test_login_with_a_provider_skips_the_challenge_and_issues_a_pair(auth: AuthHooks) -> None:
    def answer(effect: Effect) -> Any:
        if isinstance(effect, RunHooks) and effect.point.name == "login.provide":
            return Principal("carol")  # a provider hook accepted the credentials
        return None

    pair = FlowStepper(login(auth.deps, "carol", {"password": "x"}, "password")).run(answer)
    assert auth.sync.validate_token(pair.access_token).subject == "carol"


def test_the_sync_names_of_earlier_releases_still_work_and_warn(auth: AuthHooks) -> None:
    with pytest.warns(DeprecationWarning, match=r"auth\.sync\.issue_token"):
        token = auth.issue_token_sync("alice").token
    with pytest.warns(DeprecationWarning, match="refresh_token"):
        auth.sync.refresh(str(auth.sync.issue_tokens("bob").refresh_token))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auth.sync.validate_token(token).subject == "alice"
    with pytest.raises(AttributeError):
        auth.no_such_thing_sync  # noqa: B018
