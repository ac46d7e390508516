"""The base of :class:`~authhooks.AuthHooks`' method families: what one instance holds, the state built on
first use (the store, the token layer, what every flow is given) and the two drivers every flow method hands its
flow to.

``AuthHooks`` (:mod:`authhooks._auth`) is one object made of mixins, each a family of methods over this base:
hooks and handlers (:mod:`authhooks._auth_hooks`), the flows of keys and tokens (:mod:`authhooks._auth_flows`),
sign-in with OpenID providers and browser sessions (:mod:`authhooks._auth_sessions`), start-up and shutdown
(:mod:`authhooks._auth_lifecycle`). The attributes below are set by ``AuthHooks.__init__``; the mixins only read
them, so a family never depends on another.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

from authhooks.flows.deps import Clock, FlowDeps
from authhooks.flows.driver import Runtime, run_async, run_sync, shortcut
from authhooks.flows.effects import FlowCall
from authhooks.hooks.background import BackgroundStats
from authhooks.hooks.context import HookContext
from authhooks.hooks.runner import HookStats
from authhooks.records import RequestInfo
from authhooks.stores.base import Store
from authhooks.tokens.service import TokenService
from authhooks.verifiers.base import VerifierRegistry

if TYPE_CHECKING:
    from authhooks._checks import Keys
    from authhooks.clients import ClientRegistry
    from authhooks.config import Settings
    from authhooks.handlers.registration import HandlerSet
    from authhooks.hooks.points import HookPoint
    from authhooks.hooks.registry import Registry
    from authhooks.hooks.runner import HookRunner
    from authhooks.oauth.service import OAuthService

__all__ = ["Engine"]

T = TypeVar("T")


class Engine:
    """What every method family of ``AuthHooks`` stands on (never instantiated alone)."""

    settings: Settings
    clock: Clock
    clients: ClientRegistry
    oauth: OAuthService
    telemetry_handle: Any
    _keys: Keys
    _points: dict[str, HookPoint]
    _runner: HookRunner
    _registry: Registry
    _audit: Any
    _runtime: Runtime
    _context: HookContext
    _verifiers: VerifierRegistry
    _tokens: TokenService | None
    _deps: FlowDeps | None
    _build_lock: threading.Lock
    _sync_only: str | None
    _handlers: HandlerSet | None

    def _open_store(self) -> Store:
        from authhooks.stores.factory import open_store

        return open_store(settings=self.settings)

    # -- state ------------------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The state store (opened on first use)."""
        store: Store = self._runtime.store
        return store

    @property
    def tokens(self) -> TokenService:
        """The token layer (keys, issuer, validator, cache), built on first use.

        Raises:
            ConfigurationError: unreadable or weak keys, naming the variable.
        """
        return self.deps.tokens

    @property
    def verifiers(self) -> VerifierRegistry:
        """The signature verifiers by scheme (built-ins: ``ed25519``, ``p256``, ``evrmore``, ``bitcoin``);
        ``auth.verifiers.register(verifier)`` adds one."""
        return self._verifiers

    @property
    def deps(self) -> FlowDeps:
        """What every flow is given (settings, token layer, verifiers, clock); built with the token layer."""
        deps = self._deps
        if deps is None:
            with self._build_lock:
                deps = self._deps
                if deps is None:
                    tokens = TokenService(self.settings, self.clock, keys=self._keys)
                    tokens.subscribe(self.store)
                    self._tokens = tokens
                    deps = self._deps = FlowDeps(self.settings, tokens, self._verifiers, self.clock)
        return deps

    @property
    def background_stats(self) -> BackgroundStats:
        """Counters of the background-hook queue (queued, completed, failed, dropped, pending)."""
        return self._runtime.background.stats

    @property
    def hook_stats(self) -> HookStats:
        """Counters of hook runs cut at their timeout: ``timeouts``, ``abandoned`` (the hook was still running in
        its thread) and ``abandoned_running`` (abandoned runs whose hook has not returned yet)."""
        return self._runner.stats

    # -- running flows ----------------------------------------------------------------------------------------

    def context(self, request: RequestInfo | None = None) -> HookContext:
        """The hook context for a flow run about ``request``."""
        return self._context.with_request(request)

    def run_flow_sync(self, call: FlowCall[T], request: RequestInfo | None = None) -> T:
        """Drive a flow with the sync driver (or answer it by its shortcut when nothing would see the run)."""
        quick = shortcut(self._runtime, call)
        if quick is not None:
            return quick
        return run_sync(self._runtime, call, self._context, request=request)

    async def run_flow(self, call: FlowCall[T], request: RequestInfo | None = None) -> T:
        """Drive a flow with the async driver (or answer it by its shortcut when nothing would see the run)."""
        quick = shortcut(self._runtime, call)
        if quick is not None:
            return quick
        return await run_async(self._runtime, call, self._context, request=request)
