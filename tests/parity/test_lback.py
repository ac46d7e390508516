"""Parity with lback's auth signals (``lback/auth/{adminauth,jwt_auth,session_auth,permissions}.py``): each
signal becomes an authhooks hook point, and the payloads lback sends are there (minus raw tokens in logs)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny, InsufficientScope, InvalidCredentials, InvalidToken, Principal
from flows._identity import Ed25519Key, make_auth


async def _login(auth: Any, key: Ed25519Key) -> Any:
    challenge = await auth.generate_challenge(key.subject)
    return await auth.authenticate(key.subject, challenge.nonce, key.sign(challenge.message))


async def test_access_and_refresh_token_created(tmp_path: Path) -> None:
    """lback ``jwt_access_token_created`` and ``jwt_refresh_token_created``: one signal per token issued at
    login — ``issue_token.post`` with ``token_type``."""
    auth = make_auth(tmp_path)
    created: list[tuple[str, str]] = []
    auth.add_hook("issue_token.post", lambda subject, token_type: created.append((token_type, subject)))
    key = Ed25519Key()
    await _login(auth, key)
    assert created == [("access", key.subject), ("refresh", key.subject)]


async def test_token_decoded_and_decode_failed_with_reason_type(tmp_path: Path) -> None:
    """lback ``jwt_token_decoded`` (payload) and ``jwt_decode_failed`` with ``error_type`` (``expired``,
    ``invalid_signature``, ``decode_error``…) — ``validate_token.post`` and ``validate_token.failed`` with
    ``reason`` and the typed ``error``."""
    auth = make_auth(tmp_path, leeway_seconds=0)
    decoded: list[str] = []
    failed: list[tuple[str, type[BaseException]]] = []
    auth.add_hook("validate_token.post", lambda claims: decoded.append(claims["sub"]))
    auth.add_hook("validate_token.failed", lambda reason, error: failed.append((reason, type(error))))
    good = (await auth.issue_token("alice")).token
    short = (await auth.issue_token("bob", ttl_seconds=1)).token
    await auth.validate_token(good)
    head, payload, sig = good.split(".")
    forged = f"{head}.{payload}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
    for bad in ("", "not.a.token", forged):
        with pytest.raises(InvalidToken):
            await auth.validate_token(bad)
    await asyncio.sleep(2.1)
    with pytest.raises(InvalidToken):
        await auth.validate_token(short)
    assert decoded == ["alice"]
    assert [reason for reason, _ in failed] == ["malformed_token", "malformed_token", "bad_signature", "token_expired"]
    assert all(issubclass(kind, InvalidToken) for _, kind in failed)


async def test_permission_check_started_granted_denied(tmp_path: Path) -> None:
    """lback ``PermissionRequired``: ``permission_check_started``, ``permission_check_succeeded``,
    ``permission_check_failed`` — ``authorize.pre``, ``.post`` and ``.failed``."""
    auth = make_auth(tmp_path)
    events: list[str] = []
    auth.add_hook("authorize.pre", lambda permission: events.append(f"started {permission}"))
    auth.add_hook("authorize.post", lambda permission: events.append(f"granted {permission}"))
    auth.add_hook("authorize.failed", lambda permission, reason: events.append(f"denied {permission} {reason}"))
    editor = Principal(subject="alice", claims={"permissions": ["post.edit"]})
    await auth.authorize(editor, permission="post.edit")
    with pytest.raises(InsufficientScope):
        await auth.authorize(editor, permission="post.delete")
    assert events == [
        "started post.edit",
        "granted post.edit",
        "started post.delete",
        "denied post.delete permission_denied",
    ]


async def test_login_attempt_success_failure_logout_and_session_check(tmp_path: Path) -> None:
    """lback ``admin_login_attempt`` / ``_successful`` / ``_failed``, ``admin_logout_attempt`` /
    ``_successful`` and ``admin_authentication_check`` (``session_authentication_check``) — ``login.pre`` /
    ``.post`` / ``.failed``, ``invalidate_token.pre`` / ``.post`` and ``validate_token.post``."""
    auth = make_auth(tmp_path)
    events: list[str] = []
    auth.add_hook("login.pre", lambda: events.append("login_attempt"))
    auth.add_hook("login.post", lambda: events.append("login_successful"))
    auth.add_hook("login.failed", lambda reason: events.append(f"login_failed {reason}"))
    auth.add_hook("invalidate_token.pre", lambda: events.append("logout_attempt"))
    auth.add_hook("invalidate_token.post", lambda: events.append("logout_successful"))
    auth.add_hook("validate_token.post", lambda: events.append("authentication_check"))
    key = Ed25519Key()
    pair = await _login(auth, key)
    await auth.validate_token(pair.access_token)
    await auth.invalidate_token(pair.access_token)
    with pytest.raises(InvalidCredentials):
        await auth.authenticate(key.subject, "Z" * 32, key.sign("x"))
    assert events == [
        "login_attempt",
        "login_successful",
        "authentication_check",
        "logout_attempt",
        "logout_successful",
        "login_attempt",
        "login_failed challenge_unknown",
    ]


async def test_registration_attempt_success_failure(tmp_path: Path) -> None:
    """lback ``admin_registration_attempt`` / ``_successful`` / ``_failed`` — ``register.pre`` / ``.post`` /
    ``.failed``; a hook may refuse a registration."""
    auth = make_auth(tmp_path)
    events: list[str] = []
    auth.add_hook("register.pre", lambda attributes: Deny(403, reason="closed") if attributes.get("spam") else None)
    auth.add_hook("register.pre", lambda: events.append("attempt"))
    auth.add_hook("register.post", lambda: events.append("successful"))
    auth.add_hook("register.failed", lambda reason: events.append(f"failed {reason}"))
    key = Ed25519Key()
    await auth.register(key.subject)
    with pytest.raises(Deny):
        await auth.register(Ed25519Key().subject, attributes={"spam": True})
    assert events == ["attempt", "successful", "failed closed"]


async def test_oauth2_client_signals(tmp_path: Path) -> None:
    """lback ``OAuth2Auth``: ``oauth2_authorize_url_generated``, ``oauth2_token_fetched`` /
    ``oauth2_token_fetch_failed``, ``oauth2_token_refreshed`` / ``oauth2_token_refresh_failed`` — aliases of
    ``oauth_authorize.post``, ``oauth_exchange.post`` / ``.failed``, ``oauth_refresh.post`` / ``.failed``."""
    from authhooks.oauth import ExternalLoginFailed, OAuthProvider, OAuthService
    from oauth._fake_provider import ISSUER, FakeProvider

    auth = make_auth(tmp_path)
    fake = FakeProvider()
    provider = OAuthProvider(name="idp", issuer=ISSUER, client_id="shop", client_secret="s3cret", keep_tokens=True)
    auth.oauth = OAuthService(auth.settings, [provider], transport=fake.transport)
    events: list[str] = []
    auth.add_hook("oauth2_authorize_url_generated", lambda provider: events.append(f"url {provider}"))
    auth.add_hook("oauth2_token_fetched", lambda claims: events.append(f"fetched {claims['sub']}"))
    auth.add_hook("oauth2_token_fetch_failed", lambda reason: events.append(f"fetch_failed {reason}"))
    auth.add_hook("oauth2_token_refreshed", lambda subject: events.append(f"refreshed {subject}"))
    auth.add_hook("oauth2_token_refresh_failed", lambda reason: events.append(f"refresh_failed {reason}"))
    started = await auth.oauth_authorize("idp", redirect_uri="https://app.test/cb")
    done = await auth.oauth_callback("idp", fake.consent(started.url), binding=started.binding)
    subject = done.login.principal.subject
    await auth.oauth_refresh("idp", subject)
    fake.refresh_tokens.clear()
    with pytest.raises(ExternalLoginFailed):
        await auth.oauth_refresh("idp", subject)
    started = await auth.oauth_authorize("idp", redirect_uri="https://app.test/cb")
    fake.audience = "someone-else"
    with pytest.raises(ExternalLoginFailed):
        await auth.oauth_callback("idp", fake.consent(started.url), binding=started.binding)
    assert events == [
        "url idp",
        "fetched user-42",
        "refreshed idp:user-42",
        "refresh_failed refresh_refused",
        "url idp",
        "fetch_failed wrong_audience",
    ]


async def test_session_signals(tmp_path: Path) -> None:
    """lback ``SessionAuth``: ``user_logged_in``, ``session_authentication_check``, ``user_logged_out``,
    ``session_login_failed`` — aliases of ``session.created``, ``.validated``, ``.ended``, ``.failed``."""
    from authhooks.sessions import InvalidSession

    auth = make_auth(tmp_path)
    events: list[str] = []
    auth.add_hook("user_logged_in", lambda subject: events.append(f"logged_in {subject}"))
    auth.add_hook("session_authentication_check", lambda subject: events.append(f"check {subject}"))
    auth.add_hook("user_logged_out", lambda subject, reason: events.append(f"logged_out {subject} {reason}"))
    auth.add_hook("session_login_failed", lambda reason: events.append(f"failed {reason}"))
    grant = await auth.create_session(Principal("alice"))
    await auth.validate_session(grant.session_id)
    await auth.end_session(grant.session_id)
    with pytest.raises(InvalidSession):
        await auth.validate_session(grant.session_id)
    assert events == ["logged_in alice", "check alice", "logged_out alice logout", "failed session_unknown"]
