"""Parity with Joken.Hooks (``lib/joken/hooks.ex``): before/after hooks around generate, sign, verify and
validate; ``{:cont, …}`` passes (possibly changed) input on, ``{:halt, …}`` stops. Joken's ``before_generate``/
``before_sign`` are authhooks' ``issue_token.pre``, ``after_*`` its ``.post``; ``before/after_verify`` are
``verify_signature.pre/post``; ``before/after_validate`` are ``validate_token.pre/post``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authhooks import BadSignature, Deny, Principal
from flows._identity import make_auth


async def test_before_generate_adds_a_claim(tmp_path: Path) -> None:
    """Joken ``before_generate``: a hook adds a claim to the token config before claims are generated."""
    auth = make_auth(tmp_path)

    @auth.hook("before_generate")
    def add_role(token_type: str, claims: dict[str, Any]) -> dict[str, Any] | None:
        return {"claims": {**claims, "role": "admin"}} if token_type == "access" else None

    issued = await auth.issue_token("alice")
    assert (await auth.validate_token(issued.token)).claims["role"] == "admin"


async def test_a_before_hooks_output_is_the_next_hooks_input(tmp_path: Path) -> None:
    """Joken: ``{:cont, new_input}`` from one before hook is what the next hook receives."""
    auth = make_auth(tmp_path)
    seen: list[dict[str, Any]] = []
    auth.add_hook("before_generate", lambda claims: {"claims": {**claims, "step": 1}})
    auth.add_hook("before_sign", lambda claims: seen.append(dict(claims)) or {"claims": {**claims, "step": 2}})
    issued = await auth.issue_token("alice", {"origin": "test"})
    assert seen == [{"origin": "test", "step": 1}]
    assert issued.claims["step"] == 2


async def test_halt_stops_generation(tmp_path: Path) -> None:
    """Joken ``{:halt, {:error, reason}}`` from ``before_generate``: no token, the error reaches the caller and
    later hooks are skipped — a ``Deny`` in authhooks."""
    auth = make_auth(tmp_path)
    later: list[str] = []
    auth.add_hook("before_generate", lambda subject: Deny(403, reason="subject_banned") if subject == "eve" else None)
    auth.add_hook("before_generate", lambda: later.append("ran"))
    auth.add_hook("after_generate", lambda: later.append("after"))
    with pytest.raises(Deny) as info:
        await auth.issue_token("eve")
    assert info.value.reason == "subject_banned"
    assert later == []


async def test_after_generate_sees_the_signed_token(tmp_path: Path) -> None:
    """Joken ``after_generate``/``after_sign``: the hook receives the result (the signed token) and input."""
    auth = make_auth(tmp_path)
    seen: list[tuple[str, str]] = []
    auth.add_hook("after_sign", lambda token, jti: seen.append((token, jti)))
    issued = await auth.issue_token("alice")
    assert seen == [(issued.token, issued.jti)]


async def test_after_verify_inspects_the_verify_result(tmp_path: Path) -> None:
    """Joken ``after_verify``: the hook sees whether the signature verified (``{:ok, claims}`` or
    ``{:error, :signature_error}``) — ``verify_signature.post``'s ``valid``."""
    auth = make_auth(tmp_path)
    results: list[tuple[str, bool]] = []
    auth.add_hook("after_verify", lambda scheme, valid: results.append((scheme, valid)))
    token = (await auth.issue_token("alice")).token
    await auth.validate_token(token)
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
    with pytest.raises(BadSignature):
        await auth.validate_token(forged)
    assert results == [("jws", True), ("jws", False)]


async def test_after_validate_inspects_and_replaces_the_result(tmp_path: Path) -> None:
    """Joken ``after_validate``: the hook sees the validated claims and may return a different result —
    ``validate_token.post`` returning ``{"principal": …}``."""
    auth = make_auth(tmp_path)

    @auth.hook("after_validate")
    def enrich(principal: Principal, claims: Any) -> dict[str, Principal]:
        assert claims["sub"] == "alice"
        return {"principal": Principal(principal.subject, principal.claims, attributes={"team": "blue"})}

    token = (await auth.issue_token("alice")).token
    assert (await auth.validate_token(token)).attributes["team"] == "blue"


async def test_before_validate_may_halt(tmp_path: Path) -> None:
    """Joken ``before_validate`` returning ``{:halt, …}``: validation stops with the hook's error."""
    auth = make_auth(tmp_path)
    auth.add_hook("before_validate", lambda: Deny(401, reason="maintenance"))
    token = (await auth.issue_token("alice")).token
    with pytest.raises(Deny) as info:
        await auth.validate_token(token)
    assert info.value.reason == "maintenance"
