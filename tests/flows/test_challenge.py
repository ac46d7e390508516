"""The ``challenge`` flow: the record, its message, its storage, its hooks and its validation."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from authhooks import Deny, HookError, InvalidRequest
from authhooks.flows import challenge as ch
from flows._identity import Ed25519Key
from flows.conftest import Call


async def test_challenge_record_message_and_storage(auth: Any, api: Call) -> None:
    key = Ed25519Key()
    c = await api("generate_challenge", key.subject)
    assert c.subject == key.subject
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", c.nonce)  # 192 bits
    assert c.expires_at - c.issued_at == pytest.approx(300)  # settings.challenge_ttl_seconds
    assert c.message.startswith(f"authhooks wants you to sign in with your key:\n{key.subject}\n")
    assert f"\nNonce: {c.nonce}\n" in c.message
    body = c.to_dict()
    assert body["expires_in"] == 300
    for field in ("issued_at", "expires_at"):
        assert body[field].endswith("Z")
        assert body[field] in c.message
        datetime.fromisoformat(body[field].replace("Z", "+00:00"))
    stored = ch.Challenge.from_bytes(await auth.store.get(f"challenge:{c.nonce}"))
    assert stored == c
    ttl = await auth.store.ttl(f"challenge:{c.nonce}")
    assert 300 < ttl <= 300 + ch.EXPIRED_GRACE_SECONDS


async def test_nonces_are_unique(api: Call) -> None:
    nonces = {(await api("generate_challenge", "alice")).nonce for _ in range(50)}
    assert len(nonces) == 50


async def test_service_name_and_expiry_argument(tmp_path: Any, mode: str) -> None:
    from flows._identity import call, make_auth

    auth = make_auth(tmp_path, service_name="example.com")
    c = await call(auth, mode, "generate_challenge", "alice", 2)
    assert c.message.startswith("example.com wants you to sign in")
    assert c.expires_in == 120


@pytest.mark.parametrize("subject", ["", "a\nb", "a\x00", "x" * 513, "line\u2028sep", 42, None])
async def test_malformed_subjects_are_invalid_requests(api: Call, subject: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        await api("generate_challenge", subject)
    assert info.value.reason == "invalid_subject"


@pytest.mark.parametrize("minutes", [0, -1, 1441, float("nan"), float("inf"), True, "5"])
async def test_bad_expiry_from_the_caller_is_invalid_request(api: Call, minutes: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        await api("generate_challenge", "alice", minutes)
    assert info.value.reason == "invalid_expiry"


async def test_pre_hook_extends_expiry_and_post_hook_sees_the_challenge(auth: Any, api: Call) -> None:
    seen: list[Any] = []

    def longer_for_admins(subject: str, expire_minutes: float) -> dict[str, Any] | None:
        return {"expire_minutes": 60} if subject.startswith("admin") else None

    def record(subject: str, challenge: ch.Challenge, expires_at: float) -> None:
        seen.append((subject, challenge.nonce, expires_at))

    auth.add_hook("challenge.pre", longer_for_admins)
    auth.add_hook("challenge.post", record)
    admin = await api("generate_challenge", "admin-1")
    user = await api("generate_challenge", "user-1")
    assert admin.expires_in == 3600
    assert user.expires_in == 300
    assert seen == [("admin-1", admin.nonce, admin.expires_at), ("user-1", user.nonce, user.expires_at)]


@pytest.mark.parametrize("bad", [0, 10_000, "soon"])
async def test_pre_hook_setting_a_bad_expiry_is_a_hook_error(auth: Any, api: Call, bad: Any) -> None:
    auth.add_hook("challenge.pre", lambda: {"expire_minutes": bad}, on_error="raise")
    with pytest.raises(HookError, match="expire_minutes"):
        await api("generate_challenge", "alice")


async def test_pre_hook_denies_and_nothing_is_stored(auth: Any, api: Call) -> None:
    def rate_limited() -> Deny:
        return Deny(429, reason="rate_limited", headers={"Retry-After": "30"})

    stored: list[str] = []
    auth.add_hook("challenge.pre", rate_limited)
    auth.add_hook("challenge.post", lambda challenge: stored.append(challenge.nonce))
    with pytest.raises(Deny) as info:
        await api("generate_challenge", "alice")
    assert (info.value.status, info.value.reason) == (429, "rate_limited")
    assert stored == []


async def test_metadata_is_kept_and_validated(auth: Any, api: Call) -> None:
    auth.add_hook("challenge.pre", lambda metadata: {"metadata": {**metadata, "hooked": True}})
    c = await api("generate_challenge", "alice", metadata={"client": "cli"})
    assert dict(c.metadata) == {"client": "cli", "hooked": True}
    with pytest.raises(InvalidRequest):
        await api("generate_challenge", "alice", metadata={"x": object()})
    with pytest.raises(InvalidRequest):
        await api("generate_challenge", "alice", metadata={"x": "y" * 5000})
