"""Handlers as hooks: a :class:`HandlerSet` registers each compiled handler in the one hook registry, and lists,
enables, disables and swaps them at run time.

A handler **is** a hook: it is registered with :meth:`authhooks.AuthHooks.add_hook` under the name
``handler:<name>``, with the handler's ``order``, ``tryfirst``/``trylast``, ``after``/``before``, ``enforce``,
``background`` and ``on_error``, and its conditions as the hook's ``when=``. So it is ordered with the Python
hooks of its point, follows the same policies, and every run is traced as a hook run named ``handler:<name>`` and,
with an audit log, written as a record of kind ``event`` linked to its flow's record.

How a built-in action runs. Its hook is a sync callable declared ``inline``: under the sync driver it runs in the
caller's thread with blocking I/O (``store.sync``, ``httpx.Client``, ``smtplib``); under the async driver it is
called on the event loop and returns a coroutine the driver awaits (the async store, ``httpx.AsyncClient``; SMTP in
a thread), so the loop never blocks and no thread hop is paid. A handler's ``timeout`` is applied by the handler
itself (``asyncio.wait_for`` on the loop; the webhook's deadline under the sync driver), since an inline hook has
no runner timeout. A ``python`` action is the user's function registered as an ordinary hook (with the runner's
timeout).

Bookkeeping hooks, registered when some handler needs them: ``handlers.count_failures`` (``tryfirst`` at
``login.failed``: the counters of ``failures`` conditions), ``handlers.record_login`` (at ``login.post``: the last
successful login, for ``last_auth_older_than``) and, for each ``lockout``, its guard ``handler:<name>`` at
``login.pre`` (runs only while the subject is locked) and ``handlers.unlock:<name>`` at ``login.post``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from authhooks.errors import ConfigurationError, HookError
from authhooks.handlers.actions import Action
from authhooks.handlers.conditions import Condition, compile_conditions, on_loop
from authhooks.handlers.limits import FailureCounter, LockGuard, Lockout, LockReset, LoginRecorder
from authhooks.handlers.loading import Binding, Handler
from authhooks.handlers.spec import Env
from authhooks.handlers.summary import Call
from authhooks.hooks.points import HookPoint
from authhooks.records import RequestInfo

__all__ = ["HandlerInfo", "HandlerSet", "Registration"]

logger = logging.getLogger("authhooks.handlers")


@dataclass(frozen=True, slots=True)
class Registration:
    """One hook a handler set registers: where, what, and with which options."""

    point: HookPoint
    name: str
    fn: Callable[..., Any]
    when: Callable[..., Any] | None
    options: Mapping[str, Any]
    handler: str | None
    """The handler it belongs to (``None`` for shared bookkeeping)."""


@dataclass(frozen=True, slots=True)
class HandlerInfo:
    """A handler as :meth:`HandlerSet.list` shows it."""

    name: str
    action: str
    points: tuple[str, ...]
    enabled: bool
    conditions: Mapping[str, Any]
    description: str
    where: str


def _action_hook(name: str, point: HookPoint, action: Action, timeout: float | None) -> Callable[..., Any]:
    def run(request: RequestInfo | None, auth: Any, **inputs: Any) -> Any:
        call = Call(name, point, inputs, request, auth)
        if on_loop():
            coro = action.run_async(call)
            return coro if timeout is None else asyncio.wait_for(coro, timeout)
        return action.run_sync(call)

    run.__qualname__ = run.__name__ = f"handler_{action.kind}"
    return run


def _condition_hook(condition: Condition, point: HookPoint) -> Callable[..., bool | Awaitable[bool]]:
    """The hook's ``when=``: the point's inputs the conditions read (``Condition.reads``; all of them when not
    known) as named parameters (the registry's caller passes them by keyword, no ``**`` packing), gathered into
    one mapping for the compiled tests. One test and nothing stored, the common case, is called directly, without
    ``auth``. A false condition is then a few hundred nanoseconds: the drivers check it before any per-run object
    is built (:mod:`authhooks.hooks.dispatch`), and ``benchmarks/handlers.py`` measures it."""
    reads = point.inputs if condition.reads is None else point.inputs & condition.reads
    names = sorted(reads)
    params = "".join(f"{n}=None, " for n in names)
    gathered = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    namespace: dict[str, Any]
    direct = condition.direct
    if direct is not None and direct[0] in reads:
        name, namespace = direct[0], {"_test": condition.tests[0], "_search": direct[1]}
        source = (
            f"def when({params}request=None):\n"
            f"    if {name}.__class__ is str and {name}:\n"
            f"        return _search({name}) is not None\n"
            f"    return _test({gathered}, request)\n"
        )
    elif len(condition.tests) == 1 and not condition.stored:
        body, namespace = f"_test({gathered}, request)", {"_test": condition.tests[0]}
        source = f"def when({params}request=None):\n    return {body}\n"
    else:
        body, namespace = f"_condition({gathered}, request, auth)", {"_condition": condition}
        source = f"def when({params}request=None, auth=None):\n    return {body}\n"
    exec(compile(source, f"<handler condition at {point.name}>", "exec"), namespace)  # noqa: S102 - names are identifiers
    when: Callable[..., bool | Awaitable[bool]] = namespace["when"]
    return when


def _registrations(handlers: tuple[Handler, ...], env: Env, clock: Callable[[], float]) -> list[Registration]:
    out: list[Registration] = []
    windows: set[tuple[str, float]] = set()
    keep_login = 0.0
    for h in handlers:
        for b in h.bindings:
            if b.condition is not None:
                windows |= b.condition.failure_windows
                keep_login = max(keep_login, b.condition.last_auth or 0.0)
            out.append(_binding(h, b))
            if isinstance(b.action, Lockout):
                out.extend(_lockout_companions(h, b.action, env, clock))
    if windows:
        counter = FailureCounter(frozenset(windows), env.proxies)
        out.append(_recorder(env.points["login.failed"], "handlers.count_failures", counter))
    if keep_login:
        out.append(_recorder(env.points["login.post"], "handlers.record_login", LoginRecorder(keep_login)))
    return out


def _recorder(point: HookPoint, hook_name: str, action: Action) -> Registration:
    """The registration of shared bookkeeping the conditions read (failure counts, last logins): ``tryfirst`` at
    ``point``, owned by no handler."""
    return Registration(point, hook_name, _action_hook("handlers", point, action, None), None, {"tryfirst": True}, None)


def _options(h: Handler) -> dict[str, Any]:
    return {
        "order": h.order,
        "tryfirst": h.tryfirst,
        "trylast": h.trylast,
        "after": h.after,
        "before": h.before,
        "enforce": h.enforce,
        "background": h.background,
        "on_error": h.on_error,
    }


def _binding(h: Handler, b: Binding) -> Registration:
    when = _condition_hook(b.condition, b.point) if b.condition is not None else None
    options = _options(h)
    if isinstance(b.action, Action):
        options["inline"] = True
        fn = _action_hook(h.name, b.point, b.action, h.timeout)
    else:  # a python action: the user's hook itself, bounded by the runner like any hook
        options["timeout"] = h.timeout
        fn = b.action
    return Registration(b.point, h.hook_name, fn, when, options, h.name)


def _lockout_companions(h: Handler, lockout: Lockout, env: Env, clock: Callable[[], float]) -> list[Registration]:
    pre = env.points["login.pre"]
    locked = compile_conditions({"locked": True}, pre, env, clock)
    assert locked is not None
    guard = Registration(
        pre,
        h.hook_name,
        _action_hook(h.name, pre, LockGuard(lockout), None),
        _condition_hook(locked, pre),
        {"tryfirst": True, "inline": True, "enforce": h.enforce},
        h.name,
    )
    out = [guard]
    if lockout.unlock_on_success:
        post = env.points["login.post"]
        reset = _action_hook(h.name, post, LockReset(lockout), None)
        out.append(Registration(post, f"handlers.unlock:{h.name}", reset, None, {"inline": True}, h.name))
    return out


class HandlerSet:
    """The handlers of one ``AuthHooks``, registered as hooks.

    Args:
        auth: the :class:`~authhooks.AuthHooks` whose registry holds them.
        handlers: compiled handlers (:func:`authhooks.handlers.loading.load`).
        env: what they were compiled with.
        source: where they came from (a path, or ``None``), for :meth:`authhooks.AuthHooks.reload_handlers`.
    """

    def __init__(self, auth: Any, handlers: tuple[Handler, ...], env: Env, source: Any = None) -> None:
        self._auth = auth
        self.env = env
        self.handlers = handlers
        self.source = source
        self._by_name = {h.name: h for h in handlers}
        self._enabled = {h.name: h.enabled for h in handlers}
        self._registrations = _registrations(handlers, env, auth.clock)
        self._installed: list[Registration] = []
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.handlers)

    def __iter__(self) -> Iterator[Handler]:
        return iter(self.handlers)

    def __repr__(self) -> str:
        return f"<HandlerSet {len(self.handlers)} handler(s) from {self.source!r}>"

    def list(self) -> list[HandlerInfo]:
        """Every handler, in file order, with its points, state and conditions."""
        return [
            HandlerInfo(
                h.name,
                h.action,
                tuple(b.point.name for b in h.bindings),
                self._enabled[h.name],
                h.conditions,
                h.description,
                h.where,
            )
            for h in self.handlers
        ]

    def is_enabled(self, name: str) -> bool:
        """Whether handler ``name`` is registered now."""
        return self._enabled[self._known(name)]

    def _known(self, name: str) -> str:
        if name not in self._by_name:
            import difflib

            hint = difflib.get_close_matches(name, list(self._by_name), n=1)
            raise KeyError(f"no handler named {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
        return name

    def enable(self, name: str) -> None:
        """Register handler ``name``'s hooks (again); a no-op when it is enabled.

        Raises:
            KeyError: no such handler.
            HookError: its ordering now makes a cycle with hooks registered since.
        """
        with self._lock:
            if self._enabled[self._known(name)]:
                return
            regs = [r for r in self._registrations if r.handler == name]
            added: list[Registration] = []
            try:
                for r in regs:
                    self._add(r)
                    added.append(r)
            except HookError:
                for r in added:
                    self._remove(r)
                raise
            self._enabled[name] = True

    def disable(self, name: str) -> None:
        """Remove handler ``name``'s hooks from the registry (its counters in the store stay); a no-op when it is
        disabled.

        Raises:
            KeyError: no such handler.
        """
        with self._lock:
            if not self._enabled[self._known(name)]:
                return
            for r in [r for r in self._installed if r.handler == name]:
                self._remove(r)
            self._enabled[name] = False

    def install(self) -> None:
        """Register every enabled handler's hooks (and the bookkeeping hooks).

        Raises:
            ConfigurationError: a hook the registry refuses (an ordering cycle, a Python action's signature), naming
                the handler's file and line; nothing stays registered then.
        """
        with self._lock:
            try:
                for r in self._registrations:
                    if r.handler is None or self._enabled[r.handler]:
                        self._add(r)
            except HookError as exc:
                self.uninstall()
                handler = self._by_name.get(r.handler or "")
                where = f"{handler.where}: handler {handler.name!r}: " if handler is not None else ""
                raise ConfigurationError(f"{where}{exc}") from None

    def uninstall(self) -> None:
        """Remove every hook this set registered."""
        with self._lock:
            for r in list(self._installed):
                self._remove(r)

    def _add(self, r: Registration) -> None:
        self._auth.add_hook(r.point, r.fn, name=r.name, when=r.when, **r.options)
        self._installed.append(r)

    def _remove(self, r: Registration) -> None:
        self._auth.remove_hook(r.point.name, name=r.name)
        self._installed.remove(r)
