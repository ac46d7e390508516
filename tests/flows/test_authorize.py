"""The ``authorize`` flow: scopes, permissions, and hooks that grant, change or deny."""

from __future__ import annotations

from typing import Any

import pytest

from authhooks import Deny, InsufficientScope, Principal
from flows.conftest import Call

READER = Principal(subject="alice", scopes=frozenset({"read"}), claims={"permissions": ["reports:view"]})


async def test_granted_when_every_scope_is_held(auth: Any, api: Call) -> None:
    posted: list[tuple[str, tuple[str, ...]]] = []
    auth.add_hook(
        "authorize.post", lambda principal, required_scopes: posted.append((principal.subject, required_scopes))
    )
    assert await api("authorize", READER, ["read"]) is READER
    assert await api("authorize", READER, "read") is READER
    assert await api("authorize", READER) is READER
    assert posted == [("alice", ("read",)), ("alice", ("read",)), ("alice", ())]


async def test_missing_scope_is_insufficient_scope(auth: Any, api: Call) -> None:
    failed: list[tuple[str, tuple[str, ...]]] = []
    auth.add_hook("authorize.failed", lambda reason, required_scopes: failed.append((reason, required_scopes)))
    with pytest.raises(InsufficientScope) as info:
        await api("authorize", READER, "read write")
    err = info.value
    assert (err.status, err.error, err.reason, err.required_scopes) == (
        403,
        "insufficient_scope",
        "insufficient_scope",
        ("read", "write"),
    )
    assert failed == [("insufficient_scope", ("read", "write"))]


async def test_permissions_fail_closed(api: Call) -> None:
    assert await api("authorize", READER, permission="reports:view") is READER
    assert await api("authorize", READER, permission="read") is READER  # a scope counts as a permission
    with pytest.raises(InsufficientScope) as info:
        await api("authorize", READER, permission="reports:delete")
    assert info.value.reason == "permission_denied"


async def test_pre_hook_grants(auth: Any, api: Call) -> None:
    auth.add_hook("authorize.pre", lambda principal: {"granted": True} if principal.subject == "root" else None)
    root = Principal(subject="root")
    assert await api("authorize", root, "admin", permission="anything") is root
    with pytest.raises(InsufficientScope):
        await api("authorize", Principal(subject="bob"), "admin")


async def test_pre_hook_changes_required_scopes(auth: Any, api: Call) -> None:
    auth.add_hook("authorize.pre", lambda required_scopes: {"required_scopes": [*required_scopes, "write"]})
    with pytest.raises(InsufficientScope) as info:
        await api("authorize", READER, "read")
    assert info.value.required_scopes == ("read", "write")


async def test_pre_hook_denies_and_failed_hook_hears_it(auth: Any, api: Call) -> None:
    reasons: list[str] = []
    auth.add_hook("authorize.pre", lambda permission: Deny(403, reason="outside_hours") if permission else None)
    auth.add_hook("authorize.failed", lambda reason: reasons.append(reason))
    with pytest.raises(Deny):
        await api("authorize", READER, permission="reports:view")
    assert reasons == ["outside_hours"]


async def test_malformed_required_scopes_are_a_value_error(api: Call) -> None:
    with pytest.raises(ValueError, match="scope"):
        await api("authorize", READER, [1])
    with pytest.raises(ValueError, match="scope"):
        await api("authorize", READER, ["two words"])
