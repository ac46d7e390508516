"""Points an application declares for itself (FlaskBB's post-save events), fired through the same engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from authhooks import AuthHooks, Deny, FireResult, HookError, HookPoint, PointKind

Fire = Callable[..., Awaitable[FireResult]]


async def test_declared_point_runs_its_hooks(auth: AuthHooks, fire: Fire) -> None:
    point = auth.declare_point("post_save.post", inputs=("item",), doc="An item was saved.")
    assert isinstance(point, HookPoint)
    assert (point.name, point.flow, point.stage, point.kind) == (
        "post_save.post",
        "post_save",
        "post",
        PointKind.NOTIFICATION,
    )
    assert "post_save.post" in auth.points
    saved: list[Any] = []
    auth.add_hook("post_save.post", lambda item, point: saved.append((item, point)))

    @auth.hook(point)
    def index(item: dict[str, str]) -> None:
        saved.append(item["id"])

    result = await fire(auth, "post_save.post", item={"id": "42"})
    assert saved == [({"id": "42"}, "post_save.post"), "42"]
    assert dict(result.values) == {"item": {"id": "42"}}


async def test_declared_decision_point_can_modify_and_deny(auth: AuthHooks, fire: Fire) -> None:
    auth.declare_point("upload.pre", kind="decision", inputs=("filename", "size"), mutable=("filename",))
    auth.add_hook("upload.pre", lambda filename: {"filename": filename.replace("/", "_")})
    auth.add_hook("upload.pre", lambda size: Deny(status=413, reason="too_large") if size > 10 else None)
    result = await fire(auth, "upload.pre", filename="a/b.txt", size=1)
    assert result.values["filename"] == "a_b.txt"
    with pytest.raises(Deny) as info:
        await fire(auth, "upload.pre", filename="x", size=11)
    assert (info.value.status, info.value.reason) == (413, "too_large")


async def test_declared_decision_point_refuses_changes_to_non_mutable_inputs(auth: AuthHooks, fire: Fire) -> None:
    auth.declare_point("upload.pre", kind=PointKind.DECISION, inputs=("filename", "size"), mutable=("filename",))
    auth.add_hook("upload.pre", lambda: {"size": 0}, on_error="raise")
    with pytest.raises(HookError, match="size"):
        await fire(auth, "upload.pre", filename="x", size=11)


async def test_declared_provide_point(auth: AuthHooks, fire: Fire) -> None:
    auth.declare_point("avatar.provide", kind="provide", inputs=("user",))
    auth.add_hook("avatar.provide", lambda: None)
    auth.add_hook("avatar.provide", lambda user: f"https://img.example/{user}.png")
    auth.add_hook("avatar.provide", lambda: "never")
    assert (await fire(auth, "avatar.provide", user="alice")).result == "https://img.example/alice.png"


def test_hook_at_an_undeclared_point_is_refused_until_declared() -> None:
    auth = AuthHooks(store_url="memory://")
    with pytest.raises(HookError, match="declare_point"):
        auth.add_hook("post_save.post", lambda item: None)
    auth.declare_point("post_save.post", inputs=("item",))
    auth.add_hook("post_save.post", lambda item: None)


def test_declared_point_checks_hook_parameters() -> None:
    auth = AuthHooks(store_url="memory://")
    auth.declare_point("post_save.post", inputs=("item",))
    with pytest.raises(HookError, match="unknown parameter 'items'"):
        auth.add_hook("post_save.post", lambda items: None)


def test_declarations_are_per_instance() -> None:
    first, second = AuthHooks(store_url="memory://"), AuthHooks(store_url="memory://")
    first.declare_point("post_save.post", inputs=("item",))
    with pytest.raises(HookError):
        second.add_hook("post_save.post", lambda: None)


@pytest.mark.parametrize(
    "name",
    ["PostSave.post", "post_save", "post_save.post.now", "1save.post", "post-save.post", "", ".post", "save."],
)
def test_malformed_point_names_are_refused(name: str) -> None:
    auth = AuthHooks(store_url="memory://")
    with pytest.raises(HookError):
        auth.declare_point(name, inputs=("item",))
    assert name not in auth.points


@pytest.mark.parametrize("name", ["post_save.post", "login.pre", "validate_token.post"])
def test_duplicate_declaration_is_refused(name: str) -> None:
    auth = AuthHooks(store_url="memory://")
    if name == "post_save.post":
        auth.declare_point(name, inputs=("item",))
    before = auth.point(name)
    with pytest.raises(HookError, match="already declared"):
        auth.declare_point(name, inputs=("other",))
    assert auth.point(name) is before


@pytest.mark.parametrize(
    "options",
    [
        {"kind": "decision", "inputs": ("item",), "mutable": ("owner",)},  # mutable but not an input
        {"kind": "notification", "inputs": ("item",), "mutable": ("item",)},  # notifications change nothing
        {"inputs": ("item", "request")},  # clashes with a context parameter
        {"inputs": ("event",)},
        {"kind": "sometimes", "inputs": ("item",)},  # not a kind
    ],
    ids=["mutable-not-input", "mutable-notification", "request-clash", "event-clash", "unknown-kind"],
)
def test_inconsistent_declarations_are_refused(options: dict[str, Any]) -> None:
    auth = AuthHooks(store_url="memory://")
    with pytest.raises(HookError):
        auth.declare_point("post_save.post", **options)
    assert "post_save.post" not in auth.points


async def test_firing_with_an_undeclared_input_is_refused(auth: AuthHooks, fire: Fire) -> None:
    ran: list[str] = []
    auth.declare_point("post_save.post", inputs=("item",))
    auth.add_hook("post_save.post", lambda: ran.append("ran"))
    with pytest.raises(HookError, match="colour"):
        await fire(auth, "post_save.post", item={}, colour="red")
    with pytest.raises(HookError, match="password"):
        await fire(auth, "login.pre", subject="alice", password="pw")
    assert ran == []


async def test_firing_an_unknown_point_is_refused(auth: AuthHooks, fire: Fire) -> None:
    with pytest.raises(HookError, match="unknown hook point"):
        await fire(auth, "post_save.post", item={})
