"""The order hooks run in: ``order``, registration order, ``tryfirst``/``trylast``, named dependencies, cycles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from authhooks import AuthHooks, FireResult, HookError

Fire = Callable[..., Awaitable[FireResult]]


def appender(log: list[str], label: str) -> Callable[[], None]:
    def hook() -> None:
        log.append(label)

    return hook


async def run_order(auth: AuthHooks, fire: Fire, log: list[str], point: str = "login.pre") -> list[str]:
    log.clear()
    await fire(auth, point, subject="alice")
    assert [h.name for h in auth.hooks(point)] == log  # hooks() reports the order they actually run in
    return list(log)


async def test_registration_order_by_default(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    for label in ("a", "b", "c"):
        auth.add_hook("login.pre", appender(log, label), name=label)
    assert await run_order(auth, fire, log) == ["a", "b", "c"]


async def test_lower_order_runs_first_then_registration_order(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "late"), name="late", order=10)
    auth.add_hook("login.pre", appender(log, "first"), name="first", order=-5)
    auth.add_hook("login.pre", appender(log, "mid1"), name="mid1")
    auth.add_hook("login.pre", appender(log, "mid2"), name="mid2")
    assert await run_order(auth, fire, log) == ["first", "mid1", "mid2", "late"]


async def test_tryfirst_and_trylast_beat_order(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "default_provider"), name="default_provider", trylast=True, order=-100)
    auth.add_hook("login.pre", appender(log, "plain"), name="plain", order=-50)
    auth.add_hook("login.pre", appender(log, "first_b"), name="first_b", tryfirst=True, order=5)
    auth.add_hook("login.pre", appender(log, "first_a"), name="first_a", tryfirst=True, order=1)
    auth.add_hook("login.pre", appender(log, "plain2"), name="plain2", order=100)
    assert await run_order(auth, fire, log) == ["first_a", "first_b", "plain", "plain2", "default_provider"]


async def test_modifications_follow_the_order(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.pre", lambda subject: {"subject": subject + "-second"}, order=2)
    auth.add_hook("login.pre", lambda subject: {"subject": subject + "-first"}, order=1)
    result = await fire(auth, "login.pre", subject="alice")
    assert result.values["subject"] == "alice-first-second"


async def test_after_names_a_dependency(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "audit"), name="audit", after="rate_limit", order=-10)
    auth.add_hook("login.pre", appender(log, "other"), name="other")
    auth.add_hook("login.pre", appender(log, "rate_limit"), name="rate_limit", order=5)
    assert await run_order(auth, fire, log) == ["other", "rate_limit", "audit"]


async def test_before_names_a_dependent(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "a"), name="a")
    auth.add_hook("login.pre", appender(log, "b"), name="b")
    auth.add_hook("login.pre", appender(log, "normalise"), name="normalise", before=["a", "b"], trylast=True)
    assert await run_order(auth, fire, log) == ["normalise", "a", "b"]


async def test_dependency_overrides_tryfirst(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "eager"), name="eager", tryfirst=True, after=("loader",))
    auth.add_hook("login.pre", appender(log, "loader"), name="loader")
    auth.add_hook("login.pre", appender(log, "x"), name="x")
    assert await run_order(auth, fire, log) == ["loader", "eager", "x"]


async def test_dependency_on_an_absent_name_is_ignored(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "a"), name="a", after="optional_plugin")
    auth.add_hook("login.pre", appender(log, "b"), name="b", before="also_missing")
    assert await run_order(auth, fire, log) == ["a", "b"]


async def test_dependency_is_resolved_when_the_named_hook_arrives_later(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "audit"), name="audit", after="rate_limit")
    assert await run_order(auth, fire, log) == ["audit"]
    auth.add_hook("login.pre", appender(log, "rate_limit"), name="rate_limit")
    assert await run_order(auth, fire, log) == ["rate_limit", "audit"]


async def test_dependency_on_a_hook_at_another_point_is_ignored(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("challenge.pre", appender(log, "elsewhere"), name="elsewhere")
    auth.add_hook("login.pre", appender(log, "a"), name="a", after="elsewhere")
    auth.add_hook("login.pre", appender(log, "b"), name="b")
    assert await run_order(auth, fire, log) == ["a", "b"]


async def test_removing_a_dependency_keeps_the_rest_in_order(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "a"), name="a", after="c")
    auth.add_hook("login.pre", appender(log, "b"), name="b")
    auth.add_hook("login.pre", appender(log, "c"), name="c")
    assert await run_order(auth, fire, log) == ["b", "c", "a"]
    auth.remove_hook(name="c")
    assert await run_order(auth, fire, log) == ["a", "b"]


@pytest.mark.parametrize(
    "cycle",
    [
        [("a", {"after": "b"}), ("b", {"after": "a"})],
        [("a", {"before": "b"}), ("b", {"before": "a"})],
        [("a", {"after": "c"}), ("b", {"after": "a"}), ("c", {"after": "b"})],
    ],
    ids=["after-after", "before-before", "three"],
)
async def test_cycle_is_refused_and_registry_unchanged(
    auth: AuthHooks, fire: Fire, cycle: list[tuple[str, dict[str, Any]]]
) -> None:
    log: list[str] = []
    *accepted, (last_name, last_opts) = cycle
    for name, opts in accepted:
        auth.add_hook("login.pre", appender(log, name), name=name, **opts)
    before = auth.hooks("login.pre")
    order_before = await run_order(auth, fire, log)
    with pytest.raises(HookError, match="cycle"):
        auth.add_hook("login.pre", appender(log, last_name), name=last_name, **last_opts)
    assert auth.hooks("login.pre") == before
    assert await run_order(auth, fire, log) == order_before
    # the refused name is free: the same hook registers without the cycle
    auth.add_hook("login.pre", appender(log, last_name), name=last_name)
    assert last_name in await run_order(auth, fire, log)


async def test_self_dependency_is_not_a_cycle(auth: AuthHooks, fire: Fire) -> None:
    log: list[str] = []
    auth.add_hook("login.pre", appender(log, "a"), name="a", after="a")
    assert await run_order(auth, fire, log) == ["a"]


async def test_provide_chain_respects_ordering(auth: AuthHooks, fire: Fire) -> None:
    auth.add_hook("login.provide", lambda: "builtin", name="builtin", trylast=True)
    auth.add_hook("login.provide", lambda: "ldap", name="ldap", after="cache")
    auth.add_hook("login.provide", lambda: None, name="cache")
    assert [h.name for h in auth.hooks("login.provide")] == ["cache", "ldap", "builtin"]
    assert (await fire(auth, "login.provide", subject="alice")).result == "ldap"
