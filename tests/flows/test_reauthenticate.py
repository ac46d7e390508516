"""The ``reauthenticate`` flow: a fresh proof for a signed-in principal, its failure counter and a lockout
policy built on it."""

from __future__ import annotations

from typing import Any

import pytest

from authhooks import Deny, InvalidCredentials, Principal, StopAuthentication
from flows._identity import Ed25519Key, EvrmoreKey
from flows.conftest import Call


async def _signed_in(api: Call, key: Any, scheme: str = "ed25519") -> tuple[Principal, str]:
    c = await api("generate_challenge", key.subject)
    pair = await api("authenticate", key.subject, c.nonce, key.sign(c.message), scheme=scheme)
    return await api("validate_token", pair.access_token), pair.access_token


async def _answer(api: Call, key: Any) -> dict[str, str]:
    c = await api("generate_challenge", key.subject)
    return {"challenge": c.nonce, "signature": key.sign(c.message)}


async def test_reauthentication_returns_a_fresh_principal(auth: Any, api: Call) -> None:
    key = Ed25519Key()
    principal, _ = await _signed_in(api, key)
    posted: list[Principal] = []
    auth.add_hook("reauthenticate.post", lambda principal: posted.append(principal))
    fresh = await api("reauthenticate", principal, await _answer(api, key))
    assert fresh.subject == principal.subject
    assert fresh.attributes["fresh"] is True
    assert fresh.attributes["auth_time"] >= principal.claims["auth_time"]
    assert fresh.claims == principal.claims
    assert posted == [fresh]


async def test_scheme_is_detected_from_the_subject(api: Call) -> None:
    key = EvrmoreKey()
    principal, _ = await _signed_in(api, key, "evrmore")
    fresh = await api("reauthenticate", principal, await _answer(api, key))
    assert fresh.attributes["fresh"] is True


async def test_failures_are_counted_and_cleared(auth: Any, api: Call) -> None:
    key = Ed25519Key()
    principal, _ = await _signed_in(api, key)
    counts: list[tuple[str, int]] = []
    auth.add_hook("reauthenticate.failed", lambda reason, failures: counts.append((reason, failures)))
    for _ in range(2):
        creds = await _answer(api, key)
        with pytest.raises(InvalidCredentials):
            await api("reauthenticate", principal, {**creds, "signature": key.sign("wrong")})
    with pytest.raises(InvalidCredentials):
        await api("reauthenticate", principal, {"challenge": "A" * 32, "signature": key.sign("x")})
    assert counts == [("bad_signature", 1), ("bad_signature", 2), ("challenge_unknown", 3)]
    await api("reauthenticate", principal, await _answer(api, key))
    with pytest.raises(InvalidCredentials):
        await api("reauthenticate", principal, {"challenge": "A" * 32, "signature": key.sign("x")})
    assert counts[-1] == ("challenge_unknown", 1)


async def test_providers_confirm_refuse_or_pass(auth: Any, api: Call) -> None:
    principal = Principal(subject="alice")

    def by_password(credentials: dict[str, Any]) -> bool | None:
        if "password" not in credentials:
            return None
        return credentials["password"] == "s3cret"

    auth.add_hook("reauthenticate.provide", by_password)
    assert (await api("reauthenticate", principal, {"password": "s3cret"})).attributes["fresh"] is True
    with pytest.raises(InvalidCredentials) as info:
        await api("reauthenticate", principal, {"password": "nope"})
    assert info.value.reason == "provider_refused"


async def test_lockout_policy_revokes_access_after_repeated_failures(auth: Any, api: Call) -> None:
    """The documented policy: three failed reauthentications lock the subject out; its tokens stop working and
    new logins are stopped."""

    def lock_after_three_failures(principal: Principal, failures: int, store: Any) -> None:
        if failures >= 3:
            store.sync.set(f"lockout:{principal.subject}", b"1", 900)

    def refuse_locked(principal: Principal, store: Any) -> None:
        if store.sync.get(f"lockout:{principal.subject}") is not None:
            raise Deny(401, reason="account_locked")

    def stop_locked(subject: str, store: Any) -> None:
        if store.sync.get(f"lockout:{subject}") is not None:
            raise StopAuthentication("account_locked")

    auth.add_hook("reauthenticate.failed", lock_after_three_failures)
    auth.add_hook("validate_token.post", refuse_locked)
    auth.add_hook("login.pre", stop_locked)
    key = Ed25519Key()
    principal, token = await _signed_in(api, key)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await api("reauthenticate", principal, {"challenge": "A" * 32, "signature": key.sign("x")})
    with pytest.raises(Deny) as info:
        await api("validate_token", token)
    assert info.value.reason == "account_locked"
    c = await api("generate_challenge", key.subject)
    with pytest.raises(StopAuthentication):
        await api("authenticate", key.subject, c.nonce, key.sign(c.message))
