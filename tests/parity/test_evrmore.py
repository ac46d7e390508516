"""Parity with Evrmore Authentication's event hooks (docs/api-reference/event-hooks.md): every documented
example, written against authhooks. Evrmore's parameter ``evrmore_address`` is authhooks' ``subject``; its
hook names (``pre_challenge``, ``post_auth``…) are accepted as aliases."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny, HookFailed, InvalidCredentials
from flows._identity import EvrmoreKey, make_auth


async def _login(auth: Any, key: EvrmoreKey) -> Any:
    challenge = await auth.generate_challenge(key.subject)
    return await auth.authenticate(key.subject, challenge.nonce, key.sign(challenge.message), scheme="evrmore")


async def test_wallet_challenge_response_login(tmp_path: Path) -> None:
    """Evrmore's core flow: generate_challenge(address) → the wallet signs it → authenticate → validate_token
    → invalidate_token (logout)."""
    auth = make_auth(tmp_path)
    key = EvrmoreKey()
    pair = await _login(auth, key)
    assert (await auth.validate_token(pair.access_token)).subject == key.subject
    assert await auth.invalidate_token(pair.access_token)


async def test_extend_challenge_expiry_for_some_users(tmp_path: Path) -> None:
    """Evrmore example "Modify challenge parameters": a ``pre_challenge`` hook returns
    ``{"expire_minutes": 60}`` for selected addresses; other users keep the default."""
    auth = make_auth(tmp_path)
    vip, regular = EvrmoreKey(), EvrmoreKey()

    @auth.hook("pre_challenge")
    def extend_expiry_for_vips(subject: str, expire_minutes: float) -> dict[str, float] | None:
        return {"expire_minutes": 60} if subject == vip.subject else None

    assert (await auth.generate_challenge(vip.subject)).expires_in == 3600
    assert (await auth.generate_challenge(regular.subject, 10)).expires_in == 600


async def test_rate_limit_challenges_by_raising(tmp_path: Path) -> None:
    """Evrmore example "Rate limiting": a ``pre_challenge`` hook counts requests per address and raises past
    the limit. In authhooks the raise stops the flow (a ``Deny`` gives the client a 429)."""
    auth = make_auth(tmp_path)
    key = EvrmoreKey()

    @auth.hook("pre_challenge")
    async def rate_limit(subject: str, store: Any) -> None:
        if await store.incr(f"challenges:{subject}", 60) > 3:
            raise Deny(429, reason="rate_limited", headers={"Retry-After": "60"})

    for _ in range(3):
        await auth.generate_challenge(key.subject)
    with pytest.raises(Deny) as info:
        await auth.generate_challenge(key.subject)
    assert (info.value.status, info.value.headers) == (429, {"Retry-After": "60"})


async def test_log_authentication_attempts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Evrmore example "Logging authentication attempts": ``pre_auth`` logs every attempt, ``post_auth`` every
    success; failures are heard at ``login.failed`` (which Evrmore lacks)."""
    auth = make_auth(tmp_path)
    log = logging.getLogger("app.auth")
    auth.add_hook("pre_auth", lambda subject: log.info("attempt %s", subject[:6]))
    auth.add_hook("post_auth", lambda subject: log.info("success %s", subject[:6]))
    auth.add_hook("login.failed", lambda subject, reason: log.info("failure %s %s", subject[:6], reason))
    key = EvrmoreKey()
    with caplog.at_level(logging.INFO, logger="app.auth"):
        await _login(auth, key)
        with pytest.raises(InvalidCredentials):
            await auth.authenticate(key.subject, "A" * 32, key.sign("x"), scheme="evrmore")
    short = key.subject[:6]
    assert [r.getMessage() for r in caplog.records if r.name == "app.auth"] == [
        f"attempt {short}",
        f"success {short}",
        f"attempt {short}",
        f"failure {short} challenge_unknown",
    ]


async def test_hook_errors_are_logged_and_swallowed_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Evrmore "Error handling": by default a failing hook is logged and the flow goes on. authhooks does so
    at notification points (``post_challenge``) and on request (``on_error="ignore"``); a failing decision
    hook fails closed by default (503), which Evrmore cannot do."""
    auth = make_auth(tmp_path)

    def broken(subject: str) -> None:
        raise RuntimeError("boom")

    auth.add_hook("post_challenge", broken)
    auth.add_hook("pre_challenge", broken, on_error="ignore", name="lenient")
    with caplog.at_level(logging.WARNING, logger="authhooks"):
        challenge = await auth.generate_challenge("alice")
    assert challenge.nonce
    assert sum("RuntimeError" in r.getMessage() for r in caplog.records) == 2

    strict = make_auth(tmp_path)
    strict.add_hook("pre_challenge", broken)
    with pytest.raises(HookFailed) as info:
        await strict.generate_challenge("alice")
    assert info.value.status == 503


async def test_hook_errors_propagate_when_asked(tmp_path: Path) -> None:
    """Evrmore "Error handling": ``EvrmoreAuth(propagate_hook_errors=True)`` re-raises a hook's exception to
    the caller — here ``AuthHooks(propagate_hook_errors=True)``."""
    auth = make_auth(tmp_path, propagate_hook_errors=True)

    @auth.hook("post_challenge")
    def broken(subject: str) -> None:
        raise RuntimeError("webhook down")

    with pytest.raises(RuntimeError, match="webhook down"):
        await auth.generate_challenge("alice")


async def test_several_hooks_run_in_registration_order(tmp_path: Path) -> None:
    """Evrmore "Multiple hooks": several hooks on one event run in the order they were added; a pre hook's
    changes are seen by the next one."""
    auth = make_auth(tmp_path)
    order: list[str] = []

    def first(expire_minutes: float) -> dict[str, float]:
        order.append(f"first {expire_minutes:g}")
        return {"expire_minutes": expire_minutes * 2}

    def second(expire_minutes: float) -> None:
        order.append(f"second {expire_minutes:g}")

    auth.add_hook("pre_challenge", first)
    auth.add_hook("pre_challenge", second)
    auth.add_hook("post_challenge", lambda: order.append("post"))
    challenge = await auth.generate_challenge("alice", 5)
    assert order == ["first 5", "second 10", "post"]
    assert challenge.expires_in == 600


async def test_token_validate_and_invalidate_hooks(tmp_path: Path) -> None:
    """Evrmore ``pre/post_token_validate`` and ``pre/post_token_invalidate``: observe validation and logout."""
    auth = make_auth(tmp_path)
    seen: list[str] = []
    auth.add_hook("pre_token_validate", lambda: seen.append("pre_validate"))
    auth.add_hook("post_token_validate", lambda principal: seen.append(f"post_validate {principal.subject[:1]}"))
    auth.add_hook("pre_token_invalidate", lambda jti: seen.append("pre_invalidate"))
    auth.add_hook("post_token_invalidate", lambda subject: seen.append(f"post_invalidate {subject[:1]}"))
    key = EvrmoreKey()
    pair = await _login(auth, key)
    await auth.validate_token(pair.access_token)
    await auth.invalidate_token(pair.access_token)
    assert seen == ["pre_validate", "post_validate E", "pre_invalidate", "post_invalidate E"]
