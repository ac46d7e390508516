"""The conditions that read the store or call user code: ``failures``, ``locked``, ``last_auth_older_than`` and
``when``. Each has a blocking form (the sync driver: ``store.sync``) and an async one (the event loop)."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from authhooks.handlers import counters
from authhooks.handlers.facts import Proxies, subject_of
from authhooks.hooks.context import make_event
from authhooks.hooks.points import HookPoint
from authhooks.records import RequestInfo

__all__ = ["Failures", "LastAuth", "Locked", "StoreTest", "When"]


class StoreTest(ABC):
    """A condition that reads the store (or calls user code): a blocking and an async form."""

    @abstractmethod
    def sync(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        """The test under the sync driver (blocking store calls)."""

    @abstractmethod
    async def aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        """The test under the async driver (on the event loop)."""


class Failures(StoreTest):
    def __init__(self, count: int, window: float, by: str, proxies: Proxies) -> None:
        self.count, self.window, self.by, self.proxies = count, window, by, proxies

    def _key(self, inputs: Mapping[str, Any], request: RequestInfo | None) -> str | None:
        if self.by == "subject":
            value = subject_of(inputs)
        else:
            ip = self.proxies.client_ip(request)
            value = None if ip is None else str(ip)
        return None if value is None else counters.failure_key(self.by, self.window, value)

    def sync(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        key = self._key(inputs, request)
        return key is not None and counters.read_count_sync(auth.store, key) >= self.count

    async def aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        key = self._key(inputs, request)
        return key is not None and await counters.read_count(auth.store, key) >= self.count


class Locked(StoreTest):
    def __init__(self, want: bool) -> None:
        self.want = want

    def sync(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        subject = subject_of(inputs)
        locked = subject is not None and auth.store.sync.get(counters.lock_key(subject)) is not None
        return locked is self.want

    async def aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        subject = subject_of(inputs)
        locked = subject is not None and await auth.store.get(counters.lock_key(subject)) is not None
        return locked is self.want


class LastAuth(StoreTest):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def _older(self, last: float | None, auth: Any) -> bool:
        return last is None or auth.clock() - last > self.seconds

    def sync(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        subject = subject_of(inputs)
        if subject is None:
            return False
        return self._older(counters.read_time_sync(auth.store, counters.last_auth_key(subject)), auth)

    async def aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        subject = subject_of(inputs)
        if subject is None:
            return False
        return self._older(await counters.read_time(auth.store, counters.last_auth_key(subject)), auth)


class When(StoreTest):
    def __init__(self, fn: Callable[..., Any], point: HookPoint, spec: str) -> None:
        self.fn, self.point, self.spec = fn, point, spec

    def _call(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> Any:
        from authhooks.hooks.context import HookContext

        return self.fn(make_event(self.point, dict(inputs), HookContext(auth, request)))

    def sync(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        result = self._call(inputs, request, auth)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(f"condition when = {self.spec!r} is async and cannot run under the sync API")
        return bool(result)

    async def aio(self, inputs: Mapping[str, Any], request: RequestInfo | None, auth: Any) -> bool:
        result = self._call(inputs, request, auth)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
