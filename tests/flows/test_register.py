"""The ``register`` flow: key identities are checked, recorded once, and heard by hooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from authhooks import Deny, InvalidRequest
from flows._identity import Ed25519Key, EvrmoreKey, make_auth
from flows.conftest import Call


async def test_register_records_the_identity_once(auth: Any, api: Call, mode: str) -> None:
    key = Ed25519Key()
    principal = await api("register", key.subject, attributes={"name": "Alice"})
    assert principal.subject == key.subject
    assert principal.attributes["name"] == "Alice"
    assert principal.attributes["scheme"] == "ed25519"
    assert await api("get_registration", key.subject) == principal
    assert await api("get_registration", Ed25519Key().subject) is None
    with pytest.raises(InvalidRequest) as info:
        await api("register", key.subject)
    assert info.value.reason == "already_registered"


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_concurrent_registrations_succeed_once(tmp_path: Path, store: str) -> None:
    auth = make_auth(tmp_path, store_url="memory://" if store == "memory" else f"sqlite:///{tmp_path}/s.db")
    key = EvrmoreKey()
    results = await asyncio.gather(
        *(auth.register(key.subject, scheme="evrmore") for _ in range(10)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert (await auth.get_registration(key.subject, scheme="evrmore")).attributes["scheme"] == "evrmore"
    await auth.aclose()


@pytest.mark.parametrize(
    ("subject", "scheme", "reason"), [("garbage", "ed25519", "invalid_subject"), ("x", "rsa", "unsupported_scheme")]
)
async def test_invalid_subjects_and_schemes(auth: Any, api: Call, subject: str, scheme: str, reason: str) -> None:
    failed: list[str] = []
    auth.add_hook("register.failed", lambda reason: failed.append(reason))
    with pytest.raises(InvalidRequest) as info:
        await api("register", subject, scheme=scheme)
    assert info.value.reason == reason
    assert failed == [reason]


async def test_hooks_change_attributes_deny_and_observe(auth: Any, api: Call) -> None:
    posted: list[tuple[str, dict[str, Any]]] = []

    def stamp(subject: str, attributes: dict[str, Any]) -> dict[str, Any]:
        if attributes.get("banned"):
            raise Deny(403, reason="registration_closed")
        return {"attributes": {**attributes, "plan": "free"}}

    auth.add_hook("register.pre", stamp)
    auth.add_hook("user_registered", lambda subject, attributes: posted.append((subject, attributes)))  # FlaskBB alias
    key = Ed25519Key()
    principal = await api("register", key.subject, attributes={"name": "A"})
    assert principal.attributes["plan"] == "free"
    assert posted == [(key.subject, {"name": "A", "plan": "free"})]
    with pytest.raises(Deny):
        await api("register", Ed25519Key().subject, attributes={"banned": True})


async def test_attributes_must_be_json(api: Call) -> None:
    with pytest.raises(InvalidRequest):
        await api("register", Ed25519Key().subject, attributes={"x": {1, 2}})
