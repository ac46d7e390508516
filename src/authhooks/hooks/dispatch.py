"""Hook dispatch: the sync and async drivers of the hook chain.

What a chain of hooks means — returns, denials, first results, error policies, timeouts, conditions, shadow
mode, background submission and the records observers get — is decided in one place,
:mod:`authhooks.hooks.chain`. The drivers here only perform the steps it asks for:

- :func:`dispatch_sync` (the WSGI driver and the ``*_sync`` API) calls a sync hook in the caller's thread when it
  has no timeout (``inline=True``, or timeouts turned off), otherwise on the bounded threads of
  :class:`~authhooks.hooks.runner.HookRunner` under its timeout; an async hook or condition is an error there.
  Called in a thread whose event loop runs, it says so to its hooks (:func:`under_sync_driver`).
- :func:`dispatch_async` (the ASGI driver and the async API) awaits async hooks and conditions on the loop under
  their timeout, runs sync hooks on the runner's threads (``inline=True`` ones on the loop) and awaits an
  awaitable a sync hook returns. See :mod:`authhooks.hooks.runner` for where runs happen.

Both submit ``background=True`` hooks to the :class:`~authhooks.hooks.background.BackgroundQueue` they are
given. When no flow run is observed, both first run the leading hooks that need no step (:func:`_plain`: sync
hooks without timeout, condition, background or shadow mode — ``HookImpl.fast`` — and, on the loop, ``inline``
ones) by calling them directly and settling each with the chain's own rules
(:func:`~authhooks.hooks.chain.interpret`, :func:`~authhooks.hooks.chain.caught`,
:func:`~authhooks.hooks.chain.conclude`); this saves the generator (about half a microsecond per dispatch, more
than an inline hook costs) on the hottest path, and ``benchmarks/dispatch.py`` measures it. A hook that would
be such a hook but for its sync ``when=`` condition (a declarative handler, typically) has its condition checked
there too: false skips it as the chain's ``CHECK`` would (nothing is recorded when no run is observed), true calls
it there; ``benchmarks/handlers.py`` measures it.
"""

from __future__ import annotations

import inspect
from asyncio import _get_running_loop
from collections.abc import Generator
from contextvars import ContextVar
from typing import Any

from authhooks.errors import HookError
from authhooks.hooks.chain import CALL, CHECK, NO_RESULT, Step, caught, chain, conclude, interpret
from authhooks.hooks.context import HookContext
from authhooks.hooks.observer import FlowRun, Observer
from authhooks.hooks.points import HookPoint
from authhooks.hooks.registry import HookImpl
from authhooks.hooks.runner import runner_for as _runner

__all__ = ["NO_RESULT", "dispatch_async", "dispatch_sync", "under_sync_driver"]


# -- sync ----------------------------------------------------------------------------------------------------

# True while dispatch_sync runs hooks in a thread whose event loop is running (a coroutine calling auth.sync.*):
# there, "a loop is running" does not mean "the async driver called", and a hook that picks blocking or awaitable
# I/O by it asks :func:`under_sync_driver` first. Set only in that (rare) case: elsewhere no loop runs in the
# thread and the question does not arise, so the common path pays one C call, not a context-variable set.
_SYNC_DRIVER: ContextVar[bool] = ContextVar("authhooks_sync_driver", default=False)


def under_sync_driver() -> bool:
    """Whether the sync driver (:func:`dispatch_sync`) is running hooks in this context while an event loop runs
    in the thread: a hook must then block (return no awaitable), as under WSGI, even though a loop is running."""
    return _SYNC_DRIVER.get()


def _call_sync(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    if h.is_async:
        raise HookError(
            f"async hook {h.name!r} at {h.point.name} cannot run under the sync API (auth.sync / WSGI); "
            "register a sync hook or call the async API"
        )
    if h.timeout is None:  # inline, or timeouts turned off: nothing to bound, so no thread hop
        return h.call(values, ctx)
    return _runner(h).call_sync(h, values, ctx)


def _check_sync(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    if h.condition_is_async:
        raise HookError(
            f"async condition of hook {h.name!r} at {h.point.name} cannot run under the sync API (auth.sync / "
            "WSGI); give it a sync condition or call the async API"
        )
    assert h.condition is not None
    return h.condition(values, ctx)


def _plain(
    hooks: tuple[HookImpl, ...], values: dict[str, Any], ctx: HookContext, on_loop: bool
) -> tuple[tuple[HookImpl, ...] | None, Any]:
    """Run the leading hooks that need no step, in the caller's thread, settled by the chain's own rules.

    A hook needs no step when it is ``fast`` (sync, no timeout, condition, background or shadow mode) and, on
    the event loop, ``inline`` too. Returns ``(None, result)`` when the chain is over (the provide result or
    :data:`NO_RESULT`; a denial is raised), else ``(rest, pending)``: the hooks left to the chain, and the
    awaitable the first of them returned (on the loop) or ``None`` when it has not run.
    """
    for h in hooks:
        if not h.fast or (on_loop and not h.inline):
            if (  # not fast but for a sync condition: the condition is checked here (inline: a call per hook)
                h.condition is None
                or h.condition_is_async
                or h.timeout is not None
                or h.background
                or not h.enforce
                or h.is_async
                or (on_loop and not h.inline)
            ):
                return hooks[hooks.index(h) :], None
            try:  # a sync condition: false skips the hook, unrecorded, as the chain's CHECK would
                r = h.condition(values, ctx)
            except Exception as exc:
                out = caught(h, exc)
                if out.stop:
                    return None, conclude(out)
                continue
            if r is not True:
                if on_loop and inspect.isawaitable(r):  # the chain's CHECK of h, answered when awaited
                    return hooks[hooks.index(h) :], r
                if not r:
                    continue
        try:
            r = h.call(values, ctx)
            if r is None:
                continue
            if on_loop and inspect.isawaitable(r):
                return hooks[hooks.index(h) :], r
            out = interpret(h, r, values)
        except Exception as exc:
            out = caught(h, exc)
        if out.stop:
            return None, conclude(out)
    return None, NO_RESULT


def dispatch_sync(
    point: HookPoint,
    hooks: tuple[HookImpl, ...],
    values: dict[str, Any],
    ctx: HookContext,
    run: FlowRun | None = None,
    observers: tuple[Observer, ...] = (),
    background: Any = None,
) -> Any:
    """Run ``hooks`` (the tuple of ``point``) by the rules of :mod:`authhooks.hooks.chain`, blocking.

    Args:
        point: the hook point (its hooks carry it too).
        hooks: the point's hooks, in call order.
        values: the point's inputs; updated in place by modifying hooks.
        ctx: what hooks may ask for besides the inputs.
        run: the observed flow run, which gets one record per hook; ``None`` when nobody watches.
        observers: who hears each record.
        background: the queue for ``background=True`` hooks (``None``: they are dropped).

    Returns:
        The provide result, or :data:`NO_RESULT`.

    Raises:
        Deny: the enforced denial (or :class:`~authhooks.errors.HookFailed`) that stopped the chain.
        Exception: a hook's exception under the ``raise`` policy (a timeout as ``HookError``).
    """
    marked = _SYNC_DRIVER.set(True) if _get_running_loop() is not None else None
    try:
        if run is None:
            rest, result = _plain(hooks, values, ctx, False)
            if rest is None:
                return result
            hooks = rest
        gen = chain(hooks, values, run, observers)
        send, error = gen.send, None
        try:
            step: Step = send(None)
            while True:
                action, h = step
                try:
                    if action is CALL:
                        r = _call_sync(h, values, ctx)
                    elif action is CHECK:
                        r = _check_sync(h, values, ctx)
                    else:
                        r = background is not None and background.submit_sync(h, values, ctx, run, observers)
                except BaseException as exc:
                    error = exc
                else:
                    step = send(r)
                    continue
                step = gen.throw(error)  # outside the handler, so what the chain raises is not chained to it
        except StopIteration as stop:
            return stop.value
    finally:
        if marked is not None:
            _SYNC_DRIVER.reset(marked)


# -- async ---------------------------------------------------------------------------------------------------


async def _call_async(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    if h.is_async:
        aw = h.call(values, ctx)
        return await (aw if h.timeout is None else _runner(h).await_hook(h, aw))
    if h.inline:
        r = h.call(values, ctx)  # declared non-blocking: no thread hop, no coroutine around it
    else:  # a sync hook may block: off the loop, on the runner's bounded threads
        r = await _runner(h).call_async(h, values, ctx)
    if r is not None and inspect.isawaitable(r):
        r = await _runner(h).await_hook(h, r)
    return r


async def _check_async(h: HookImpl, values: dict[str, Any], ctx: HookContext) -> Any:
    assert h.condition is not None
    r = h.condition(values, ctx)
    if h.condition_is_async or inspect.isawaitable(r):
        r = await r
    return r


async def dispatch_async(
    point: HookPoint,
    hooks: tuple[HookImpl, ...],
    values: dict[str, Any],
    ctx: HookContext,
    run: FlowRun | None = None,
    observers: tuple[Observer, ...] = (),
    background: Any = None,
) -> Any:
    """The async driver of the same chain: like :func:`dispatch_sync`, but hooks run as the module docstring
    says for the async driver, and the event loop never blocks on a hook that is not ``inline``."""
    pending: Any = None
    if run is None:
        rest, pending = _plain(hooks, values, ctx, True)
        if rest is None:
            return pending
        hooks = rest
    gen: Generator[Step, Any, Any] = chain(hooks, values, run, observers)
    send, error = gen.send, None
    try:
        step: Step = send(None)
        while True:
            action, h = step
            try:
                if pending is not None:  # the awaitable an inline hook returned to _plain: the answer to its call
                    aw, pending = pending, None
                    r = await _runner(h).await_hook(h, aw)
                elif action is CALL:
                    r = await _call_async(h, values, ctx)
                elif action is CHECK:
                    r = await _check_async(h, values, ctx)
                else:
                    r = background is not None and background.submit_async(h, values, ctx, run, observers)
            except BaseException as exc:
                error = exc
            else:
                step = send(r)
                continue
            step = gen.throw(error)  # outside the handler, so what the chain raises is not chained to it
    except StopIteration as stop:
        return stop.value
