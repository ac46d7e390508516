"""The hook chain driven by hand: every rule of :mod:`authhooks.hooks.chain` without a driver, a thread or a loop.

Each test sends what a hook "returned" or throws in what it "raised", then checks the steps the chain asked
for, what it returned or raised, what it did to the inputs and the records it made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator
from typing import Any

import pytest

from authhooks import Deny, HookError, HookFailed
from authhooks.events import Decision
from authhooks.hooks.chain import CALL, CHECK, NO_RESULT, QUEUE, Step, chain, finish
from authhooks.hooks.context import HookContext
from authhooks.hooks.dispatch import dispatch_async, dispatch_sync
from authhooks.hooks.observer import FlowRun, HookRecord
from authhooks.hooks.points import CATALOGUE
from authhooks.hooks.registry import HookImpl, Registry
from authhooks.hooks.runner import HookTimeout


def hook(point: str, name: str, **options: Any) -> HookImpl:
    """A registered hook (the chain never calls it: the test answers for it)."""
    return Registry().add(CATALOGUE[point], lambda: None, name=name, **options)


def drive(gen: Generator[Step, Any, Any], replies: list[Any], seen: list[tuple[str, str]]) -> Any:
    """Answer each step with the next reply (an exception is thrown in); note the steps; return the result."""
    pending = iter(replies)
    try:
        step = next(gen)
        while True:
            seen.append((step[0], step[1].name))
            reply = next(pending)
            step = gen.throw(reply) if isinstance(reply, BaseException) else gen.send(reply)
    except StopIteration as stop:
        return stop.value


def decisions(run: FlowRun) -> list[tuple[str, str]]:
    return [(r.hook, str(r.decision)) for r in run.hooks]


# -- returns --------------------------------------------------------------------------------------------------


def test_decision_chain_calls_each_hook_in_order_and_applies_updates() -> None:
    a, b, c = (hook("login.pre", n) for n in "abc")
    values: dict[str, Any] = {"subject": "alice", "credentials": "pw"}
    run, seen = FlowRun("login"), []
    result = drive(chain((a, b, c), values, run), [None, {"subject": "bob"}, None], seen)
    assert result is NO_RESULT
    assert seen == [(CALL, "a"), (CALL, "b"), (CALL, "c")]
    assert values == {"subject": "bob", "credentials": "pw"}
    assert decisions(run) == [("a", "continue"), ("b", "modify"), ("c", "continue")]


@pytest.mark.parametrize("how", ["returned", "raised"])
def test_deny_stops_the_chain_and_is_raised(how: str) -> None:
    a, b = hook("login.pre", "a"), hook("login.pre", "b")
    denial = Deny(429, reason="rate_limited")
    run, seen = FlowRun("login"), []
    with pytest.raises(Deny) as info:
        drive(chain((a, b), {}, run), [denial], seen)
    assert info.value is denial
    assert seen == [(CALL, "a")]
    assert [(r.hook, str(r.decision), r.reason) for r in run.hooks] == [("a", "deny", "rate_limited")]


def test_first_provider_result_ends_the_chain_even_when_falsy() -> None:
    a, b, c = (hook("login.provide", n) for n in "abc")
    run, seen = FlowRun("login"), []
    assert drive(chain((a, b, c), {}, run), [None, 0], seen) == 0
    assert seen == [(CALL, "a"), (CALL, "b")]
    assert decisions(run) == [("a", "continue"), ("b", "provide")]


def test_notification_returns_and_denials_are_ignored() -> None:
    a, b, c = (hook("login.post", n) for n in "abc")
    values: dict[str, Any] = {"subject": "alice"}
    run, seen = FlowRun("login"), []
    assert drive(chain((a, b, c), values, run), [{"subject": "x"}, Deny(), "whatever"], seen) is NO_RESULT
    assert len(seen) == 3
    assert values == {"subject": "alice"}
    assert decisions(run) == [("a", "continue"), ("b", "continue"), ("c", "continue")]


@pytest.mark.parametrize("reply", [{"nope": 1}, "a string"])
def test_a_return_the_point_does_not_allow_is_a_failure(reply: Any) -> None:
    a = hook("login.pre", "a")
    run = FlowRun("login")
    with pytest.raises(HookFailed) as info:
        drive(chain((a,), {}, run), [reply], [])
    assert isinstance(info.value.cause, HookError)
    assert [(r.decision, r.error_type, r.reason) for r in run.hooks] == [(Decision.ERROR, "HookError", "hook_error")]


# -- failures -------------------------------------------------------------------------------------------------


def test_deny_policy_fails_closed_and_logs_the_redacted_message(caplog: pytest.LogCaptureFixture) -> None:
    a, b = hook("login.pre", "a"), hook("login.pre", "b")
    run, seen = FlowRun("login"), []
    boom = RuntimeError("lookup failed for Bearer tok.en.value-1, nonce Zq8vR2mW7kT4yP1nB6xC3")
    with pytest.raises(HookFailed) as info:
        drive(chain((a, b), {}, run), [boom], seen)
    assert (info.value.status, info.value.reason, info.value.hook, info.value.cause) == (503, "hook_error", "a", boom)
    assert info.value.__context__ is None  # the hook's message must not ride along in a traceback
    assert seen == [(CALL, "a")]
    assert [(r.decision, r.error_type) for r in run.hooks] == [(Decision.ERROR, "RuntimeError")]
    assert [r.getMessage() for r in caplog.records] == [
        "hook 'a' at login.pre failed (RuntimeError: lookup failed for Bearer [REDACTED], nonce [REDACTED]); "
        "policy deny"
    ]


def test_ignore_policy_continues() -> None:
    a, b = hook("login.pre", "a", on_error="ignore"), hook("login.pre", "b")
    run, seen = FlowRun("login"), []
    assert drive(chain((a, b), {}, run), [ValueError(), None], seen) is NO_RESULT
    assert seen == [(CALL, "a"), (CALL, "b")]
    assert decisions(run) == [("a", "error"), ("b", "continue")]


def test_raise_policy_propagates_the_exception_unrecorded() -> None:
    a = hook("login.post", "a", on_error="raise")
    run = FlowRun("login")
    boom = ValueError("x")
    with pytest.raises(ValueError) as info:
        drive(chain((a,), {}, run), [boom], [])
    assert info.value is boom
    assert run.hooks == []


def test_timeout_fails_closed_and_says_whether_the_run_was_abandoned() -> None:
    a = hook("login.pre", "a", timeout=0.5)
    run = FlowRun("login")
    with pytest.raises(HookFailed) as info:
        drive(chain((a,), {}, run), [HookTimeout("cut", abandoned=True)], [])
    assert info.value.reason == "hook_timeout"
    record = run.hooks[0]
    assert (record.decision, record.error_type, record.abandoned) == (Decision.TIMEOUT, "TimeoutError", True)


def test_timeout_under_raise_is_a_hook_error_naming_the_timeout() -> None:
    a = hook("login.pre", "a", timeout=0.5, on_error="raise")
    with pytest.raises(HookError, match=r"'a' at login.pre timed out after 0.5s"):
        drive(chain((a,), {}), [HookTimeout("cut")], [])


def test_a_hook_without_timeout_cannot_time_out() -> None:
    a = hook("login.pre", "a")
    run = FlowRun("login")
    with pytest.raises(HookFailed) as info:
        drive(chain((a,), {}, run), [TimeoutError()], [])
    assert info.value.reason == "hook_error"
    assert run.hooks[0].decision is Decision.ERROR


def test_a_cancellation_goes_through_unrecorded() -> None:
    a = hook("login.pre", "a", on_error="ignore")
    run = FlowRun("login")
    with pytest.raises(asyncio.CancelledError):
        drive(chain((a,), {}, run), [asyncio.CancelledError()], [])
    assert run.hooks == []


# -- conditions, background, shadow mode ----------------------------------------------------------------------


def test_condition_is_a_step_and_false_skips_the_hook() -> None:
    a = hook("login.pre", "a", when=lambda: False)
    b = hook("login.pre", "b", when=lambda: True)
    run, seen = FlowRun("login"), []
    assert drive(chain((a, b), {}, run), [False, True, None], seen) is NO_RESULT
    assert seen == [(CHECK, "a"), (CHECK, "b"), (CALL, "b")]
    assert decisions(run) == [("a", "skipped"), ("b", "continue")]
    assert run.hooks[0].duration == 0.0


def test_a_condition_that_raises_follows_the_policy() -> None:
    a = hook("login.pre", "a", when=lambda: True)
    with pytest.raises(HookFailed):
        drive(chain((a,), {}), [KeyError("k")], [])


@pytest.mark.parametrize(("queued", "decision"), [(True, "queued"), (False, "dropped")])
def test_background_hooks_are_submitted_not_called(queued: bool, decision: str) -> None:
    a = hook("login.post", "a", background=True)
    run, seen = FlowRun("login"), []
    assert drive(chain((a,), {}, run), [queued], seen) is NO_RESULT
    assert seen == [(QUEUE, "a")]
    assert decisions(run) == [("a", decision)]


def test_shadow_hooks_take_no_effect_and_their_denials_are_recorded() -> None:
    deny = hook("login.pre", "deny", enforce=False)
    change = hook("login.pre", "change", enforce=False)
    fail = hook("login.pre", "fail", enforce=False)
    provide = hook("login.provide", "provide", enforce=False)
    values: dict[str, Any] = {"subject": "alice"}
    run = FlowRun("login")
    replies = [Deny(reason="blocked"), {"subject": "mallory"}, RuntimeError(), "principal"]
    assert drive(chain((deny, change, fail, provide), values, run), replies, []) is NO_RESULT
    assert values == {"subject": "alice"}
    assert [(r.hook, str(r.decision), r.reason, r.enforced) for r in run.hooks] == [
        ("deny", "shadow_deny", "blocked", False),
        ("change", "modify", None, False),
        ("fail", "shadow_deny", "hook_error", False),
        ("provide", "provide", None, False),
    ]


# -- records --------------------------------------------------------------------------------------------------


def test_nothing_is_recorded_without_a_run() -> None:
    a = hook("login.pre", "a")
    assert drive(chain((a,), {}), [None], []) is NO_RESULT


def test_observers_hear_each_record_and_their_failures_do_not_reach_the_chain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[HookRecord] = []

    class Broken:
        def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
            raise RuntimeError("observer bug")

    class Listener:
        def hook_ran(self, run: FlowRun, record: HookRecord) -> None:
            heard.append(record)

    a, b = hook("login.pre", "a"), hook("login.pre", "b")
    run = FlowRun("login")
    with caplog.at_level(logging.ERROR):
        drive(chain((a, b), {}, run, (Broken(), Listener())), [None, None], [])  # type: ignore[arg-type]
    assert [r.hook for r in heard] == ["a", "b"]
    assert heard == run.hooks
    assert "observer failed" in caplog.text


# -- background runs -------------------------------------------------------------------------------------------


def background_run(h: HookImpl, run: FlowRun | None, reply: Any) -> Any:
    steps = chain((h,), {}, run, (), background=True)
    assert next(steps) == (CALL, h)  # no condition or queue step: the job was queued after both
    error = reply if isinstance(reply, BaseException) else None
    return finish(steps, None if error else reply, error)


@pytest.mark.parametrize(
    ("reply", "decision", "error_type"),
    [
        ("ignored", Decision.CONTINUE, None),
        (Deny(), Decision.CONTINUE, None),
        (ValueError("no"), Decision.ERROR, "ValueError"),
        (HookTimeout("cut"), Decision.TIMEOUT, "TimeoutError"),
        (asyncio.CancelledError(), Decision.ERROR, "CancelledError"),
    ],
)
def test_a_background_run_returns_its_decision_and_never_raises(
    reply: Any, decision: Decision, error_type: str | None
) -> None:
    h = hook("login.post", "mail", background=True, timeout=1.0, on_error="raise", when=lambda: False)
    run = FlowRun("login")
    assert background_run(h, run, reply) is decision
    record = run.hooks[0]
    assert (record.decision, record.error_type, record.background) == (decision, error_type, True)


def test_finish_refuses_a_chain_that_wants_another_step() -> None:
    a, b = hook("login.pre", "a"), hook("login.pre", "b")
    steps = chain((a, b), {})
    next(steps)
    with pytest.raises(RuntimeError, match="after the last one"):
        finish(steps, None)


# -- the drivers' plain path (unobserved hooks that need no step) against the chain ----------------------------


def _raise(exc: BaseException) -> Any:
    raise exc


async def _coroutine_update() -> dict[str, str]:
    return {"scheme": "awaited"}


SCENARIOS: dict[str, tuple[str, list[tuple[Callable[..., Any], dict[str, Any]]]]] = {
    "updates": ("login.pre", [(lambda: None, {}), (lambda subject: {"subject": subject.upper()}, {})]),
    "deny raised": ("login.pre", [(lambda: _raise(Deny(429, reason="slow")), {}), (lambda: 1 / 0, {})]),
    "deny returned": ("login.pre", [(lambda: Deny(reason="no"), {})]),
    "fails closed": ("login.pre", [(lambda: 1 / 0, {}), (lambda: None, {})]),
    "ignored failure": ("login.pre", [(lambda: 1 / 0, {"on_error": "ignore"}), (lambda: {"scheme": "s"}, {})]),
    "raise policy": ("login.pre", [(lambda: _raise(KeyError("k")), {"on_error": "raise"})]),
    "bad return": ("login.pre", [(lambda: {"bogus": 1}, {})]),
    "first result": ("login.provide", [(lambda: None, {}), (lambda: 0, {}), (lambda: "late", {})]),
    "notification": ("login.post", [(lambda: _raise(Deny()), {}), (lambda: 5, {}), (lambda: 1 / 0, {})]),
    "mixed": (
        "login.pre",
        [(lambda: {"subject": "b"}, {}), (lambda: {"scheme": "c"}, {"when": lambda: True}), (lambda: None, {})],
    ),
}


async def _outcome(driver: str, point: str, hooks: tuple[HookImpl, ...], observed: bool) -> tuple[Any, ...]:
    values: dict[str, Any] = {"subject": "alice", "scheme": "password"}
    run = FlowRun("login") if observed else None
    ctx = HookContext(auth=None)
    try:
        if driver == "sync":
            result = dispatch_sync(CATALOGUE[point], hooks, values, ctx, run)
        else:
            result = await dispatch_async(CATALOGUE[point], hooks, values, ctx, run)
    except Exception as exc:
        return type(exc).__name__, getattr(exc, "reason", None), values
    return "returned", result, values


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_plain_path_settles_runs_as_the_chain_does(driver: str, scenario: str) -> None:
    point, specs = SCENARIOS[scenario]
    registry = Registry()
    hooks = tuple(registry.add(CATALOGUE[point], fn, inline=True, name=f"h{i}", **o) for i, (fn, o) in enumerate(specs))
    assert hooks[0].fast  # the unobserved dispatch starts on the plain path
    plain = await _outcome(driver, point, hooks, observed=False)
    assert plain == await _outcome(driver, point, hooks, observed=True)
    expected = {
        "updates": ("returned", None, {"subject": "ALICE", "scheme": "password"}),
        "deny raised": ("Deny", "slow", {"subject": "alice", "scheme": "password"}),
        "fails closed": ("HookFailed", "hook_error", {"subject": "alice", "scheme": "password"}),
        "ignored failure": ("returned", None, {"subject": "alice", "scheme": "s"}),
        "raise policy": ("KeyError", None, {"subject": "alice", "scheme": "password"}),
        "first result": ("returned", 0, {"subject": "alice", "scheme": "password"}),
        "mixed": ("returned", None, {"subject": "b", "scheme": "c"}),
    }
    if scenario in expected:
        assert plain == expected[scenario]


async def test_an_inline_hook_returning_an_awaitable_is_awaited_on_the_loop() -> None:
    registry = Registry()
    seen: list[str] = []
    awaits = registry.add(CATALOGUE["login.pre"], lambda: _coroutine_update(), inline=True, name="awaits")
    then = registry.add(CATALOGUE["login.pre"], lambda scheme: seen.append(scheme), inline=True, name="then")
    values: dict[str, Any] = {"scheme": "password"}
    assert await dispatch_async(CATALOGUE["login.pre"], (awaits, then), values, HookContext(auth=None)) is NO_RESULT
    assert values == {"scheme": "awaited"}
    assert seen == ["awaited"]
