"""Parity with FlaskBB's authentication hooks (``flaskbb.plugins.spec``, ``flaskbb/auth/plugins.py``,
``flaskbb/auth/services/authentication.py``): the provider chain, ``StopAuthentication``, failed-login
counting and lockout, post-authenticate gates, reauthentication and registration events. FlaskBB's
``identifier``/``secret`` are authhooks' ``subject``/``credentials``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny, InvalidCredentials, Principal, StopAuthentication
from flows._identity import Ed25519Key, make_auth

DIRECTORY = {"alice": "wonderland"}  # an LDAP server, as far as the test can tell


def ldap_provider(subject: str, credentials: dict[str, Any], scheme: str) -> Principal | None:
    """A ``flaskbb_authenticate`` implementation backed by a directory; ``None`` lets the next one try."""
    if scheme == "password" and DIRECTORY.get(subject) == credentials.get("password"):
        return Principal(subject=subject, claims={"source": "ldap"})
    return None


async def test_ldap_provider_runs_before_the_default_provider(tmp_path: Path) -> None:
    """FlaskBB ``flaskbb_authenticate`` (firstresult): a plugin's provider answers first; the default provider
    (``@impl(trylast=True)``, here challenge-response) runs only when every plugin returned ``None``."""
    auth = make_auth(tmp_path)
    calls: list[str] = []
    auth.add_hook("authenticate", ldap_provider)  # FlaskBB alias of login.provide
    auth.add_hook("authenticate", lambda subject: calls.append("after ldap"), trylast=True)
    pair = await auth.login("alice", {"password": "wonderland"}, scheme="password")
    assert (await auth.validate_token(pair.access_token)).claims["source"] == "ldap"
    assert calls == []  # the chain ended at the first result
    key = Ed25519Key()
    challenge = await auth.generate_challenge(key.subject)
    pair = await auth.authenticate(key.subject, challenge.nonce, key.sign(challenge.message))
    assert calls == ["after ldap"]
    assert (await auth.validate_token(pair.access_token)).subject == key.subject


async def test_failed_logins_are_counted_and_too_many_stop_authentication(tmp_path: Path) -> None:
    """FlaskBB ``MarkFailedLogin`` (``flaskbb_authentication_failed``) counts failures;
    ``BlockTooManyFailedLogins`` raises ``StopAuthentication`` once the limit is reached, even with the right
    password; ``ClearFailedLogins`` (``flaskbb_post_authenticate``) resets the count on success."""
    auth = make_auth(tmp_path)
    limit = 3

    def mark_failed_login(subject: str, store: Any) -> None:
        store.sync.incr(f"failed_logins:{subject}", 900)

    def block_too_many_failed_logins(subject: str, store: Any) -> None:
        count = store.sync.get(f"failed_logins:{subject}")
        if count is not None and int(count) >= limit:
            raise StopAuthentication("too_many_failed_logins")

    def clear_failed_logins(subject: str, store: Any) -> None:
        store.sync.delete(f"failed_logins:{subject}")

    auth.add_hook("authentication_failed", mark_failed_login)
    auth.add_hook("login.pre", block_too_many_failed_logins)
    auth.add_hook("authenticate", ldap_provider)
    auth.add_hook("authenticate", lambda credentials: False if "password" in credentials else None, trylast=True)
    auth.add_hook("post_authenticate", clear_failed_logins)

    await auth.login("alice", {"password": "wonderland"}, scheme="password")
    for _ in range(limit):
        with pytest.raises(InvalidCredentials):
            await auth.login("alice", {"password": "guess"}, scheme="password")
    with pytest.raises(StopAuthentication) as info:
        await auth.login("alice", {"password": "wonderland"}, scheme="password")
    assert (info.value.status, info.value.reason) == (401, "too_many_failed_logins")


async def test_stop_authentication_from_a_provider_reaches_the_user(tmp_path: Path) -> None:
    """FlaskBB ``BlockUnactivatedUser``: ``raise StopAuthentication(reason)`` in the provider chain ends the
    login, its reason reaches the caller, and ``flaskbb_authentication_failed`` still fires."""
    auth = make_auth(tmp_path)
    failed: list[tuple[str, str]] = []

    @auth.hook("authenticate", tryfirst=True)
    def block_unactivated_user(subject: str) -> None:
        if subject == "inactive":
            raise StopAuthentication("account_not_activated")

    auth.add_hook("authentication_failed", lambda subject, reason: failed.append((subject, reason)))
    with pytest.raises(StopAuthentication) as info:
        await auth.login("inactive", {"password": "x"}, scheme="password")
    assert info.value.reason == "account_not_activated"
    assert failed == [("inactive", "account_not_activated")]


async def test_post_authenticate_gate(tmp_path: Path) -> None:
    """FlaskBB ``flaskbb_post_authenticate(user)``: after the identity is known and before the session, a
    hook may refuse (a second factor); ``tryfirst`` hooks run before the others."""
    auth = make_auth(tmp_path)
    order: list[str] = []
    auth.add_hook("authenticate", ldap_provider)
    auth.add_hook("post_authenticate", lambda: order.append("audit"))
    auth.add_hook("post_authenticate", lambda: order.append("first"), tryfirst=True)

    @auth.hook("post_authenticate")
    def require_mfa(principal: Principal) -> Deny | None:
        order.append("mfa")
        return Deny(401, reason="mfa_required") if principal.subject == "alice" else None

    with pytest.raises(Deny) as info:
        await auth.login("alice", {"password": "wonderland"}, scheme="password")
    assert info.value.reason == "mfa_required"
    assert order == ["first", "audit", "mfa"]


async def test_reauthentication_attempt_post_and_failed(tmp_path: Path) -> None:
    """FlaskBB ``flaskbb_reauth_attempt(user, secret)`` (firstresult), ``flaskbb_post_reauth(user)`` and
    ``flaskbb_reauth_failed(user)`` — where FlaskBB's ``ForceLogout`` would end the session, the failed hook
    here gets a failure count to act on."""
    auth = make_auth(tmp_path)
    events: list[str] = []
    user = Principal(subject="alice")

    @auth.hook("reauth_attempt")
    def check_password(principal: Principal, credentials: dict[str, Any]) -> bool | None:
        if "password" not in credentials:
            return None
        return DIRECTORY.get(principal.subject) == credentials["password"]

    auth.add_hook("post_reauth", lambda principal: events.append(f"post {principal.subject}"))
    auth.add_hook("reauth_failed", lambda principal, failures: events.append(f"failed {failures}"))
    fresh = await auth.reauthenticate(user, {"password": "wonderland"})
    assert fresh.attributes["fresh"] is True
    with pytest.raises(InvalidCredentials):
        await auth.reauthenticate(user, {"password": "nope"})
    assert events == ["post alice", "failed 1"]


async def test_user_registered_event(tmp_path: Path) -> None:
    """FlaskBB ``flaskbb_event_user_registered(username)``: plugins hear of every new user."""
    auth = make_auth(tmp_path)
    registered: list[str] = []
    auth.add_hook("user_registered", lambda subject: registered.append(subject))
    key = Ed25519Key()
    await auth.register(key.subject)
    assert registered == [key.subject]
