"""``AuthHooks``: the public object that holds the settings, the hooks, the store and the observers, and runs
the flows (as a plain Python API, async here and blocking through :attr:`AuthHooks.sync`, and for the middleware).

It is composed, not inherited from a framework: ``__init__`` checks the settings
(:func:`authhooks._checks.check_settings`: keys loaded, store URL, handlers file; a mistake is a
``ConfigurationError`` here, not at the first request), then builds the hook engine (registry, hook threads,
background queue), the verifier registry, the store handle and the runtime the drivers use; the token layer is
built on first use (from the keys loaded here, or the embedded default key, created then). Its methods come in
families, one module each, over one base (:class:`authhooks._auth_engine.Engine`: the state and the drivers):
hooks and handlers (:mod:`authhooks._auth_hooks`), the flows of keys and tokens (:mod:`authhooks._auth_flows`),
OpenID sign-in and sessions (:mod:`authhooks._auth_sessions`), start-up and shutdown
(:mod:`authhooks._auth_lifecycle`). Every flow method is one line: it builds the flow (a generator function of
:mod:`authhooks.flows`, given one typed :class:`~authhooks.flows.deps.FlowDeps`) and hands it to a driver.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from authhooks._auth_flows import TokenFlows
from authhooks._auth_hooks import FireResult, HookMethods
from authhooks._auth_lifecycle import Lifecycle
from authhooks._auth_sessions import SessionFlows
from authhooks._checks import check_settings, quiet_if_uncaught
from authhooks._sync import SyncAuthHooks
from authhooks.clients import ClientRegistry, clients_from_settings
from authhooks.config import Settings
from authhooks.errors import ConfigurationError
from authhooks.flows.deps import Clock, FlowDeps
from authhooks.flows.driver import Runtime
from authhooks.handlers.loading import HandlersSource
from authhooks.handlers.registration import HandlerSet
from authhooks.hooks.background import BackgroundQueue
from authhooks.hooks.context import HookContext
from authhooks.hooks.observer import Observer
from authhooks.hooks.points import CATALOGUE, HookPoint
from authhooks.hooks.registry import Registry
from authhooks.hooks.runner import HookRunner
from authhooks.oauth.providers import OAuthProvider
from authhooks.oauth.service import OAuthService
from authhooks.stores.base import Store, check_store
from authhooks.tokens.service import TokenService
from authhooks.verifiers.base import VerifierRegistry

__all__ = ["AuthHooks", "FireResult"]


class AuthHooks(HookMethods, TokenFlows, SessionFlows, Lifecycle):
    """The hook engine and the flows, in one object.

    Args:
        settings: the settings; by default read from ``AUTHHOOKS_*`` (``Settings.from_env``) with
            ``overrides`` winning.
        store: a state store; by default built lazily from ``settings.store_url``.
        observers: extra observers of flows and hook runs. When ``settings.telemetry`` is true (the default) a
            :class:`~authhooks.telemetry.TelemetryObserver` comes first (OpenTelemetry API only: no-op until an
            SDK is installed); with ``audit_log_file`` an :class:`~authhooks.exporters.audit.AuditObserver` last.
        clock: the one wall clock (Unix seconds) of the flows and the token layer (default ``time.time``).
        oauth_providers: OpenID providers to sign in with (:class:`~authhooks.oauth.OAuthProvider` objects or
            mappings with a ``name``), besides those of ``AUTHHOOKS_OAUTH_PROVIDERS_FILE``.
        http_client: what fetches the issuer's discovery document and JWKS (``AUTHHOOKS_OIDC_ISSUER``,
            ``AUTHHOOKS_JWKS_URL``): an ``httpx.Client`` (proxies, custom CAs; async fetches run it on a thread), an
            ``httpx.AsyncClient`` (async fetches only) or an httpx transport; never closed by authhooks.
        handlers: declarative handlers (:mod:`authhooks.handlers`): a TOML file path or the parsed mapping; wins
            over ``AUTHHOOKS_HANDLERS_FILE``. Loaded and registered here: a bad file is a ``ConfigurationError``
            naming the file, the line and the field.
        **overrides: any :class:`~authhooks.config.Settings` field, e.g. ``propagate_hook_errors=True``.

    Hooks are registered with :meth:`add_hook` or the :meth:`hook` decorator at the points of
    :data:`~authhooks.hooks.points.CATALOGUE` (or their seed aliases, or points declared with
    :meth:`declare_point`).

    Every flow is an async method here and a blocking one on :attr:`sync` (``auth.sync.validate_token(token)``);
    the ``*_sync`` names of earlier releases still work for one release, with a ``DeprecationWarning``.

    Raises:
        ConfigurationError: a setting that cannot work — a malformed value, a weak ``AUTHHOOKS_SECRET``, an
            unreadable or invalid key file, an unsupported ``AUTHHOOKS_STORE_URL`` scheme, an unreadable or
            non-TOML handlers file — naming the variable and the reason. What needs the network or creates files
            (the key set fetch, the store, the default key) is checked at start-up (:meth:`prepare` and the
            middleware's lifespan) and by ``authhooks check``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        observers: tuple[Observer, ...] | list[Observer] = (),
        clock: Clock = time.time,
        oauth_providers: Iterable[OAuthProvider | Mapping[str, Any]] = (),
        http_client: Any = None,
        handlers: HandlersSource | None = None,
        **overrides: Any,
    ) -> None:
        try:
            if settings is None:
                settings = Settings.from_env(**overrides)
            elif overrides:
                settings = settings.replace(**overrides)
            # Every setting that can be checked without side effects, now: the keys are loaded (and kept for the
            # token layer), the store URL and the handlers file checked; nothing is created or contacted.
            self._keys = check_settings(settings, http_client=http_client)
            if store is not None:
                check_store(store)
            self.clients: ClientRegistry = clients_from_settings(settings)
            """The registered clients of introspection and revocation (``AUTHHOOKS_CLIENTS[_FILE]``)."""
            self.oauth = OAuthService(settings, oauth_providers)
            """The OpenID providers to sign in with (``AUTHHOOKS_OAUTH_PROVIDERS_FILE`` and ``oauth_providers=``)."""
        except ConfigurationError as exc:
            quiet_if_uncaught(exc)  # uncaught (an app module's `auth = AuthHooks()`): one line, no traceback
            raise
        self.settings = settings
        self.clock = clock
        # The hook engine: points, registry, the bounded hook threads (and, in the runtime, the background queue).
        self._points: dict[str, HookPoint] = dict(CATALOGUE)
        self._runner = HookRunner(settings.hook_workers)
        self._registry = Registry(
            propagate_hook_errors=settings.propagate_hook_errors,
            default_timeout=settings.hook_timeout_seconds,
            runner=self._runner,
        )
        self._audit: Any = None
        self.telemetry_handle: Any = None
        """The SDK handle made by :meth:`setup_telemetry` (flushed at shutdown), else ``None``."""
        built: list[Observer] = []
        if settings.telemetry:
            from authhooks.telemetry.tracing import TelemetryObserver

            built.append(TelemetryObserver(settings, hook_durations=settings.hook_metrics))
        built.extend(observers)
        if settings.audit_log_file is not None:
            from authhooks.exporters.audit import AuditObserver

            self._audit = AuditObserver(settings.audit_log_file, settings)
            built.append(self._audit)
        self._runtime = Runtime(
            registry=self._registry,
            observers=tuple(built),
            background=BackgroundQueue(settings.background_queue_size),
            store_factory=self._open_store,
            _store=store,
        )
        self._context = HookContext(self, None)
        self._verifiers = VerifierRegistry()
        # The token layer loads (or creates) keys: built on first use, once (see :attr:`tokens`).
        self._tokens: TokenService | None = None
        self._deps: FlowDeps | None = None
        self._build_lock = threading.Lock()
        self.sync = SyncAuthHooks(self)
        """The blocking twin of every flow method (the same flows under the sync driver): WSGI apps, scripts."""
        self._sync_only: str | None = None
        self._handlers: HandlerSet | None = None
        handlers_source = handlers if handlers is not None else settings.handlers_file
        if handlers_source is not None:
            try:
                self.load_handlers(handlers_source)
            except ConfigurationError as exc:
                quiet_if_uncaught(exc)
                raise

    async def __aenter__(self) -> AuthHooks:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> AuthHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _EarlierSyncName:
    """``auth.<flow>_sync``, the name of earlier releases of ``auth.sync.<flow>``: the same bound method, with a
    ``DeprecationWarning`` (kept for one release).

    One class attribute per name, set below from :class:`SyncAuthHooks`' methods, rather than an ``__getattr__``:
    a class with ``__getattr__`` has every attribute read of its instances go through the slow generic lookup
    (CPython cannot specialize it), and the middleware reads ``auth`` attributes on every request.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, auth: AuthHooks | None, owner: type | None = None) -> Any:
        if auth is None:
            return self
        warnings.warn(
            f"AuthHooks.{self._name}_sync is deprecated: use auth.sync.{self._name}", DeprecationWarning, stacklevel=2
        )
        return getattr(auth.sync, self._name)


for _name in dir(SyncAuthHooks):
    if (
        not _name.startswith("_")
        and callable(getattr(SyncAuthHooks, _name))
        and not hasattr(AuthHooks, _name + "_sync")
    ):
        setattr(AuthHooks, f"{_name}_sync", _EarlierSyncName(_name))
del _name
