"""The actions that count in the store: ``rate_limit`` and ``lockout``, and the bookkeeping the ``failures`` and
``last_auth_older_than`` conditions need.

Counts live in the :class:`~authhooks.stores.Store` (see :mod:`~authhooks.handlers.counters`), so on Redis every
instance shares them: a limit of 10 per minute is 10 per minute for the whole deployment.

==============  ==================================================================================================
action          options
==============  ==================================================================================================
``rate_limit``  ``limit`` (requests per window), ``window`` (duration), ``key`` (``ip``, ``subject``, ``route``,
                ``path``, ``point``, or a list of them; default ``ip``), ``status`` (default 429), ``reason``
                (default ``rate_limited``). Past the limit: a denial with ``Retry-After`` = the seconds left in
                the window (RFC 9110 §10.2.3). A fact that is absent (no request behind a plain API call) counts
                as the one key ``-``. Decision points only.
``lockout``     at ``login.failed``: ``failures`` (count), ``window`` (duration), ``duration`` (how long the
                subject's logins are refused), ``unlock_on_success`` (default true: a successful login resets the
                count), ``status`` (default 403), ``reason`` (default ``account_locked``). The refusal happens at
                ``login.pre`` (a companion hook of the same name), with ``Retry-After``.
==============  ==================================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from authhooks.errors import Deny
from authhooks.handlers import counters
from authhooks.handlers.actions import Action
from authhooks.handlers.facts import Proxies, subject_of
from authhooks.handlers.spec import Env, Problem, check_keys, duration, flag, integer, string, strings
from authhooks.handlers.summary import Call
from authhooks.hooks.points import HookPoint

__all__ = ["FailureCounter", "LockGuard", "LockReset", "Lockout", "LoginRecorder", "RateLimit"]

_KEYS = ("ip", "subject", "route", "path", "point")


def _retry_after(ttl: float | None, fallback: float) -> str:
    return str(max(1, math.ceil(ttl if ttl is not None else fallback)))


class RateLimit(Action):
    """``rate_limit``: a fixed-window counter per key; past the limit, 429 with ``Retry-After``."""

    kind = "rate_limit"
    decision_only = True
    options = ("limit", "window", "key", "status", "reason")

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env, name: str) -> None:
        check_keys(options, self.options, "options")
        self.limit = integer(options, "limit", "options", low=1)
        self.window = duration(options, "window", "options")
        self.keys = strings(options, "key", "options", ("ip",))
        for k in self.keys:
            if k not in _KEYS:
                raise Problem("options.key", f"unknown key {k!r} (known: {', '.join(_KEYS)})")
        self.status = integer(options, "status", "options", 429, low=400, high=599)
        self.reason = string(options, "reason", "options", "rate_limited")
        self.name, self.proxies = name, env.proxies

    def _key(self, call: Call) -> str:
        parts: list[str] = []
        for k in self.keys:
            value: Any
            if k == "ip":
                value = self.proxies.client_ip(call.request)
            elif k == "subject":
                value = subject_of(call.inputs)
            elif k == "route":
                value = call.request.route or call.request.path if call.request is not None else None
            elif k == "path":
                value = call.request.path if call.request is not None else call.inputs.get("path")
            else:
                value = call.point.name
            parts.append("-" if value is None else str(value))
        return counters.rate_key(self.name, tuple(parts))

    def _deny(self, ttl: float | None) -> Deny:
        return Deny(self.status, self.reason, headers={"Retry-After": _retry_after(ttl, self.window)})

    def run_sync(self, call: Call) -> Deny | None:
        store = call.auth.store.sync
        key = self._key(call)
        if store.incr(key, self.window) <= self.limit:
            return None
        return self._deny(store.ttl(key))

    async def run_async(self, call: Call) -> Deny | None:
        store = call.auth.store
        key = self._key(call)
        if await store.incr(key, self.window) <= self.limit:
            return None
        return self._deny(await store.ttl(key))


class Lockout(Action):
    """``lockout``: count a subject's failed logins; at the threshold, lock its logins for ``duration``."""

    kind = "lockout"
    options = ("failures", "window", "duration", "unlock_on_success", "status", "reason")

    def __init__(self, options: Mapping[str, Any], point: HookPoint, env: Env, name: str) -> None:
        check_keys(options, self.options, "options")
        if point.name != "login.failed":
            raise Problem("event", f"lockout counts failed logins: bind it to login.failed, not {point.name}")
        self.failures = integer(options, "failures", "options", low=1)
        self.window = duration(options, "window", "options")
        self.duration = duration(options, "duration", "options")
        self.unlock_on_success = flag(options, "unlock_on_success", "options", True)
        self.status = integer(options, "status", "options", 403, low=400, high=599)
        self.reason = string(options, "reason", "options", "account_locked")
        self.name = name

    def run_sync(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is None:
            return
        store = call.auth.store.sync
        key = counters.lockout_key(self.name, subject)
        if store.incr(key, self.window) >= self.failures:
            store.set(counters.lock_key(subject), b"1", self.duration)
            store.delete(key)

    async def run_async(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is None:
            return
        store = call.auth.store
        key = counters.lockout_key(self.name, subject)
        if await store.incr(key, self.window) >= self.failures:
            await store.set(counters.lock_key(subject), b"1", self.duration)
            await store.delete(key)


class LockGuard(Action):
    """The companion of a lockout at ``login.pre``: refuse a locked subject (its condition checks the lock)."""

    kind = "lockout"
    decision_only = True

    def __init__(self, lockout: Lockout) -> None:
        self.lockout = lockout

    def _deny(self, ttl: float | None) -> Deny:
        headers = {"Retry-After": _retry_after(ttl, self.lockout.duration)}
        return Deny(self.lockout.status, self.lockout.reason, headers=headers)

    def run_sync(self, call: Call) -> Deny | None:
        subject = subject_of(call.inputs)
        if subject is None:
            return None
        ttl = call.auth.store.sync.ttl(counters.lock_key(subject))
        return self._deny(ttl) if ttl is not None else None

    async def run_async(self, call: Call) -> Deny | None:
        subject = subject_of(call.inputs)
        if subject is None:
            return None
        ttl = await call.auth.store.ttl(counters.lock_key(subject))
        return self._deny(ttl) if ttl is not None else None


class LockReset(Action):
    """The companion of a lockout at ``login.post`` (``unlock_on_success``): forget the subject's failures."""

    kind = "lockout"

    def __init__(self, lockout: Lockout) -> None:
        self.lockout = lockout

    def run_sync(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is not None:
            call.auth.store.sync.delete(counters.lockout_key(self.lockout.name, subject))

    async def run_async(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is not None:
            await call.auth.store.delete(counters.lockout_key(self.lockout.name, subject))


class FailureCounter(Action):
    """Bookkeeping at ``login.failed`` for ``failures`` conditions: one counter per ``(by, window)`` in use."""

    kind = "count_failures"

    def __init__(self, windows: frozenset[tuple[str, float]], proxies: Proxies) -> None:
        self.windows, self.proxies = tuple(sorted(windows)), proxies

    def _keys(self, call: Call) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for by, window in self.windows:
            if by == "subject":
                value = subject_of(call.inputs)
            else:
                ip = self.proxies.client_ip(call.request)
                value = None if ip is None else str(ip)
            if value is not None:
                out.append((counters.failure_key(by, window, value), window))
        return out

    def run_sync(self, call: Call) -> None:
        store = call.auth.store.sync
        for key, window in self._keys(call):
            store.incr(key, window)

    async def run_async(self, call: Call) -> None:
        for key, window in self._keys(call):
            await call.auth.store.incr(key, window)


class LoginRecorder(Action):
    """Bookkeeping at ``login.post`` for ``last_auth_older_than``: the time of the subject's last login, kept as
    long as the longest such condition looks back (after that, "unknown" means "older" anyway)."""

    kind = "record_login"

    def __init__(self, keep: float) -> None:
        self.keep = keep

    def run_sync(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is not None:
            call.auth.store.sync.set(counters.last_auth_key(subject), repr(call.auth.clock()).encode(), self.keep)

    async def run_async(self, call: Call) -> None:
        subject = subject_of(call.inputs)
        if subject is not None:
            await call.auth.store.set(counters.last_auth_key(subject), repr(call.auth.clock()).encode(), self.keep)
