"""``AuthHooks``: the public object that holds the settings, the hooks, the store and the observers, and runs
the flows (as a plain Python API, async here and blocking through :attr:`AuthHooks.sync`, and for the middleware).

It is composed, not inherited: ``__init__`` checks the settings (:func:`authhooks._checks.check_settings`: keys
loaded, store URL, handlers file; a mistake is a ``ConfigurationError`` here, not at the first request), then
builds the hook engine (registry, hook threads, background queue), the verifier registry, the store handle and the
runtime the drivers use; the token layer is built on first use (from the keys loaded here, or the embedded
default key, created then). Every flow method is one line: it builds the flow (a generator function of
:mod:`authhooks.flows`, given one typed :class:`~authhooks.flows.deps.FlowDeps`) and hands it to a driver.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from authhooks._checks import check_settings, quiet_if_uncaught
from authhooks._sync import SyncAuthHooks
from authhooks.clients import Client, ClientCredentials, ClientRegistry, clients_from_settings
from authhooks.config import Settings
from authhooks.errors import AuthError, ConfigurationError, HookError
from authhooks.flows.authorize import authorize, required_tuple
from authhooks.flows.challenge import Challenge, challenge, validate_subject
from authhooks.flows.deps import Clock, FlowDeps
from authhooks.flows.driver import Runtime, run_async, run_sync, shortcut
from authhooks.flows.effects import FlowCall, FlowGen, RunHooks
from authhooks.flows.invalidate_token import invalidate_token
from authhooks.flows.issue_token import issue_token, issue_tokens
from authhooks.flows.login import login
from authhooks.flows.oauth_authorize import Authorization, oauth_authorize
from authhooks.flows.oauth_callback import ExternalLogin, oauth_callback
from authhooks.flows.oauth_refresh import oauth_refresh, provider_tokens
from authhooks.flows.reauthenticate import reauthenticate
from authhooks.flows.refresh_token import refresh_token as refresh_token_flow
from authhooks.flows.register import register, registration_from_bytes, registration_key
from authhooks.flows.session import (
    ValidSession,
    create_session,
    end_session,
    end_sessions,
    list_sessions,
    rotate_session,
    validate_session,
)
from authhooks.flows.validate_token import validate_token
from authhooks.flows.verify_signature import verify_signature
from authhooks.handlers.loading import HandlersSource
from authhooks.handlers.registration import HandlerSet
from authhooks.hooks.background import BackgroundQueue, BackgroundStats
from authhooks.hooks.context import HookContext
from authhooks.hooks.deadlines import run_in_thread, run_in_thread_sync
from authhooks.hooks.observer import Observer
from authhooks.hooks.points import CATALOGUE, HookPoint, PointKind, PointSpec, declare_point, resolve_point
from authhooks.hooks.registry import HookImpl, OnError, Registry, _is_async
from authhooks.hooks.runner import HookRunner, HookStats
from authhooks.oauth.providers import OAuthProvider
from authhooks.oauth.records import ProviderTokens
from authhooks.oauth.service import OAuthService
from authhooks.records import Principal, RequestInfo, TokenPair
from authhooks.sessions import SessionGrant, SessionInfo
from authhooks.stores.base import Store
from authhooks.tokens.introspection import introspection
from authhooks.tokens.issuer import IssuedToken
from authhooks.tokens.service import TokenService
from authhooks.verifiers.base import VerifierRegistry

__all__ = ["AuthHooks", "FireResult"]

logger = logging.getLogger("authhooks")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FireResult:
    """What :meth:`AuthHooks.fire` returns.

    Attributes:
        values: the inputs after decision hooks changed them.
        result: the provide chain's result, or ``None``.
    """

    values: Mapping[str, Any]
    result: Any = None


def _required(required_scopes: str | Iterable[str]) -> tuple[str, ...]:
    try:
        return required_tuple(required_scopes)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class AuthHooks:
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

    # -- declarative handlers ---------------------------------------------------------------------------------

    @property
    def handlers(self) -> HandlerSet:
        """The declarative handlers (:class:`~authhooks.handlers.HandlerSet`): ``list()``, ``enable(name)``,
        ``disable(name)``; empty until a file is loaded."""
        if self._handlers is None:
            from authhooks.handlers import empty

            self._handlers = empty(self)
        return self._handlers

    def load_handlers(self, source: HandlersSource, *, environ: Mapping[str, str] | None = None) -> HandlerSet:
        """Load a handlers file (or mapping) and register its handlers in place of the current ones, atomically.

        Args:
            source: a TOML file path, or the parsed mapping ``{"handler": [...]}``.
            environ: where ``secret_env``/``password_env`` variables are read (default ``os.environ``).

        Raises:
            ConfigurationError: naming the file, the line and the field; the current handlers stay.
        """
        from authhooks.handlers import build, swap

        new = build(self, source, self._handlers, environ)
        swap(self, self._handlers, new)
        self._handlers = new
        return new

    def reload_handlers(self) -> bool:
        """Read the handlers file again and swap the set atomically. A file that no longer loads keeps the current
        set and logs why (one line naming file, line and field); returns whether the new set is in place."""
        current = self._handlers
        source = current.source if current is not None else None
        if source is None:
            source = self.settings.handlers_file
        if source is None:
            logger.warning("authhooks: reload_handlers: no handlers file to reload")
            return False
        try:
            self.load_handlers(source)
        except ConfigurationError as exc:
            logger.error("authhooks: handlers not reloaded, the current set stays: %s", exc)
            return False
        return True

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

    # -- points and hooks -------------------------------------------------------------------------------------

    def declare_point(
        self,
        name: str,
        *,
        kind: PointKind | str = PointKind.NOTIFICATION,
        inputs: tuple[str, ...] | frozenset[str] = (),
        mutable: tuple[str, ...] | frozenset[str] = (),
        doc: str = "",
    ) -> HookPoint:
        """Declare an application hook point ``"<flow>.<stage>"`` and return it (fire it with :meth:`fire`).

        Raises:
            HookError: a malformed or already-declared name.
        """
        if name in self._points:
            raise HookError(f"hook point {name!r} is already declared")
        point = declare_point(name, kind=kind, inputs=inputs, mutable=mutable, doc=doc)
        self._points[name] = point
        return point

    def point(self, spec: PointSpec) -> HookPoint:
        """The declared point ``spec`` names (a name, an alias, a ``(Flow, Stage)`` pair)."""
        return resolve_point(spec, self._points)

    @property
    def points(self) -> Mapping[str, HookPoint]:
        """Every declared point, by name."""
        return dict(self._points)

    def add_hook(
        self,
        point: PointSpec,
        fn: Callable[..., Any],
        *,
        order: int = 0,
        tryfirst: bool = False,
        trylast: bool = False,
        after: str | tuple[str, ...] | list[str] = (),
        before: str | tuple[str, ...] | list[str] = (),
        timeout: float | None = None,
        on_error: OnError | None = None,
        when: Callable[..., Any] | None = None,
        enforce: bool = True,
        background: bool = False,
        inline: bool = False,
        name: str | None = None,
    ) -> HookImpl:
        """Register ``fn`` at ``point``.

        Args:
            point: ``"<flow>.<stage>"``, a seed alias (``"pre_auth"``), or ``(Flow.X, Stage.Y)``.
            fn: a sync or async callable. It receives only the keyword arguments it names: the point's inputs
                and ``event``, ``request``, ``store``, ``auth``, ``point``. Naming anything else is an error.
            order: lower runs first (then registration order).
            tryfirst / trylast: run before / after every hook without the flag.
            after / before: names of hooks at the same point this one must follow / precede.
            timeout: seconds; a timeout counts as an error. Without one, ``hook_timeout_seconds`` applies (5 s by
                default): every hook run is bounded. A sync hook runs on authhooks' own bounded threads
                (``hook_workers``), never on the event loop, and its caller (the loop or the ``*_sync`` caller's
                thread) waits at most the timeout; a hook still running then is abandoned to its thread and
                counted in :attr:`hook_stats`. An async hook is cancelled at its timeout.
            on_error: ``deny`` (fail closed, the default at decision points), ``ignore`` (log and continue, the
                default at notification points) or ``raise``; ``propagate_hook_errors`` forces ``raise``.
            when: a condition taking named parameters like a hook; the hook runs only when it returns true.
            enforce: ``False`` runs the hook in shadow mode: its denial is recorded, not enforced.
            background: run through the bounded background queue (notification points only).
            inline: declare a sync hook non-blocking (no I/O, no lock, microseconds): it is called in the caller's
                thread — on the event loop under the async driver — without the thread hop (tens of µs) and
                without a timeout, which cannot be enforced there. Refused with ``timeout=`` or an async hook.
            name: unique at the point; defaults to the function's qualified name.

        Returns:
            The registered :class:`~authhooks.hooks.registry.HookImpl`.

        Raises:
            HookError: unknown point or parameter, conflicting options, an ordering cycle.
        """
        if self._sync_only is not None and (_is_async(fn) or (when is not None and _is_async(when))):
            shown = name or getattr(fn, "__qualname__", repr(fn))
            raise HookError(
                f"hook {shown!r} at {self.point(point).name} is async, and this AuthHooks serves {self._sync_only}, "
                "which runs flows with the sync driver: register a sync function"
            )
        return self._registry.add(
            self.point(point),
            fn,
            order=order,
            tryfirst=tryfirst,
            trylast=trylast,
            after=after,
            before=before,
            timeout=timeout,
            on_error=on_error,
            when=when,
            enforce=enforce,
            background=background,
            inline=inline,
            name=name,
        )

    def hook(self, point: PointSpec, **options: Any) -> Callable[[F], F]:
        """Decorator form of :meth:`add_hook`: ``@auth.hook("login.pre", order=-10)``.

        Every run is bounded: by ``timeout=`` or else ``hook_timeout_seconds`` (5 s). A sync hook runs on
        authhooks' bounded pool of ``hook_workers`` threads, never on the event loop (a thread hop of tens of µs);
        ``@auth.hook("login.pre", inline=True)`` declares it non-blocking and runs it in the caller's thread, with
        no hop and no timeout. See :meth:`add_hook`.
        """

        def register(fn: F) -> F:
            self.add_hook(point, fn, **options)
            return fn

        return register

    def remove_hook(
        self,
        point: PointSpec | Callable[..., Any] | None = None,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
    ) -> int:
        """Remove the hooks matching ``point``, ``fn`` and ``name`` (each optional); return how many.

        ``auth.remove_hook(fn)`` removes ``fn`` from every point.
        """
        spec: PointSpec | None
        if point is not None and not isinstance(point, (str, tuple, HookPoint)):
            spec, fn = None, point
        else:
            spec = point
        pname = self.point(spec).name if spec is not None else None
        return self._registry.remove(pname, fn, name)

    def hooks(self, point: PointSpec) -> tuple[HookImpl, ...]:
        """The hooks of ``point`` in call order."""
        return self._registry.get(self.point(point).name)

    def require_sync(self, owner: str) -> None:
        """Bind this engine to the sync driver (a WSGI stack, named ``owner``): refuse now any async hook or
        ``when=`` condition already registered, naming it, and refuse every later registration of one.

        Raises:
            ConfigurationError: an async hook or condition is registered (the first one is named).
        """
        for impl in self._registry.all():
            if impl.is_async or impl.condition_is_async:
                raise ConfigurationError(
                    f"{owner} runs flows with the sync driver, but hook {impl.name!r} at {impl.point.name} is async: "
                    "register a sync function (or serve the app with ASGI)"
                )
        self._sync_only = owner

    def has_async_hooks(self) -> bool:
        """True when any hook or condition is async (such a stack cannot be served by the WSGI driver)."""
        return any(h.is_async or h.condition_is_async for h in self._registry.all())

    # -- observers --------------------------------------------------------------------------------------------

    @property
    def observers(self) -> tuple[Observer, ...]:
        """The observers of flows and hook runs."""
        return self._runtime.observers

    def add_observer(self, observer: Observer) -> None:
        """Add an observer (telemetry, audit, a test recorder)."""
        self._runtime.set_observers((*self._runtime.observers, observer))

    def remove_observer(self, observer: Observer) -> None:
        """Remove an observer added before."""
        self._runtime.set_observers(tuple(o for o in self._runtime.observers if o is not observer))

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

    def _fire(self, spec: PointSpec, inputs: dict[str, Any]) -> FlowCall[FireResult]:
        point = self.point(spec)
        unknown = set(inputs) - point.inputs
        if unknown:
            raise HookError(f"{point.name} has no input(s) {sorted(unknown)}; it takes {sorted(point.inputs)}")
        values = {name: inputs.get(name) for name in point.inputs}

        def fire(point: HookPoint, values: dict[str, Any]) -> FlowGen[FireResult]:
            result = yield RunHooks(point, values)
            return FireResult(values, result)

        return FlowCall(point.flow, fire, (point, values))

    async def fire(self, point: PointSpec, *, request: RequestInfo | None = None, **inputs: Any) -> FireResult:
        """Run the hooks of ``point`` (typically an application point) as a flow of its own.

        Returns:
            the inputs as decision hooks left them and the provide result.

        Raises:
            Deny: a decision hook denied.
            HookError: an input the point does not declare.
        """
        return await self.run_flow(self._fire(point, inputs), request)

    # -- the flows --------------------------------------------------------------------------------------------

    async def generate_challenge(
        self,
        subject: str,
        expire_minutes: float | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Challenge:
        """Issue a one-time challenge for ``subject`` to sign (the ``challenge`` flow; Evrmore's name).

        Args:
            subject: who will sign: a key identity (``did:key:…``, an address) or any non-empty text of at most
                512 characters without control characters.
            expire_minutes: lifetime in minutes, in ``(0, 1440]``; default ``settings.challenge_ttl_seconds``.
                ``challenge.pre`` hooks may change it (and ``subject``, ``metadata``) or deny.
            metadata: JSON-able data kept with the challenge (at most 4 KiB).
            scheme: the signature scheme the subject will sign with (``ed25519``…); when given, ``subject`` must
                be a key identity of that scheme and the challenge names its canonical form.
            request: the HTTP request behind the call, for hooks.

        Returns:
            The stored :class:`~authhooks.flows.challenge.Challenge`; give the client its ``to_dict()``.

        Raises:
            InvalidRequest: a malformed subject (or one that is not a key of ``scheme``), an unsupported
                ``scheme``, a malformed expiry or metadata.
            Deny: a ``challenge.pre`` hook denied (rate limiting).
        """
        return await self.run_flow(challenge(self.deps, subject, expire_minutes, metadata, scheme), request)

    async def verify_signature(
        self,
        subject: str,
        message: str | bytes,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> bool:
        """Check a signature over any message, through the ``verify_signature`` hooks (no challenge involved).

        Returns:
            Whether ``signature`` is a valid signature of ``message`` by the key ``subject`` names.

        Raises:
            InvalidRequest: an unsupported scheme.
            Deny: a ``verify_signature.pre`` hook denied.
        """
        return await self.run_flow(verify_signature(self.deps, subject, message, signature, scheme), request)

    async def login(
        self,
        subject: str,
        credentials: Mapping[str, Any],
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Log ``subject`` in with any credentials and issue a token pair (see :mod:`authhooks.flows.login`).

        ``login.provide`` hooks (an LDAP check, a password store…) see ``credentials`` first; when none answers,
        the built-in provider reads ``credentials["challenge"]`` and ``credentials["signature"]``.

        Raises:
            InvalidRequest: malformed subject, credentials or scheme.
            InvalidCredentials: the identity was not proven (401; ``reason`` such as ``bad_signature``).
            Deny: a hook denied (``StopAuthentication`` included).
        """
        return await self.run_flow(login(self.deps, subject, credentials, scheme), request)

    async def authenticate(
        self,
        subject: str,
        challenge: str,
        signature: str,
        *,
        scheme: str = "ed25519",
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Answer a challenge: the ``login`` flow with ``{"challenge": …, "signature": …}`` as credentials
        (Evrmore's ``authenticate``, kept as the seed name of that call, as seed point names are aliases).

        Args:
            subject: the subject the challenge was issued for.
            challenge: the challenge's ``nonce``, or its exact ``message`` (then it must match what was issued).
            signature: the signature of the challenge message, in the scheme's text form (base64/base64url).
            scheme: the verifier (``ed25519``, ``p256``, ``evrmore``, ``bitcoin`` or one you registered).

        Raises:
            InvalidCredentials: 401 ``invalid_credentials`` for every way the answer can be wrong; ``reason``
                is one of ``challenge_unknown`` (never issued, or already used), ``challenge_tampered``,
                ``challenge_subject_mismatch``, ``challenge_expired``, ``bad_signature``.
            InvalidRequest: malformed subject, missing challenge/signature, unsupported scheme.
            Deny: a hook denied.
        """
        credentials = {"challenge": challenge, "signature": signature}
        return await self.run_flow(login(self.deps, subject, credentials, scheme), request)

    async def reauthenticate(
        self,
        principal: Principal,
        credentials: Mapping[str, Any],
        *,
        scheme: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Have a signed-in principal prove its identity again (see :mod:`authhooks.flows.reauthenticate`).

        Args:
            principal: who is signed in (typically from :meth:`validate_token`).
            credentials: for the built-in provider, ``{"challenge": …, "signature": …}`` answering a challenge
                issued for ``principal.subject``; ``reauthenticate.provide`` hooks may accept others.
            scheme: the verifier; by default the one scheme that recognises the subject.

        Returns:
            The principal with ``attributes["fresh"] is True`` and ``attributes["auth_time"]`` = now.

        Raises:
            InvalidCredentials: not proven; ``reauthenticate.failed`` got the failure count.
            InvalidRequest: malformed credentials, or no scheme recognises the subject.
            Deny: a hook denied.
        """
        return await self.run_flow(reauthenticate(self.deps, principal, credentials, scheme), request)

    async def authorize(
        self,
        principal: Principal,
        required_scopes: str | Iterable[str] = (),
        *,
        permission: str | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Check that ``principal`` may proceed (see :mod:`authhooks.flows.authorize`).

        Args:
            principal: who asks.
            required_scopes: every scope needed (a space-separated string or strings).
            permission: a named permission that a hook grants, or that the principal holds as a scope or in
                its ``permissions`` claim.

        Returns:
            ``principal``, when access is granted.

        Raises:
            InsufficientScope: 403 ``insufficient_scope`` with ``required_scopes``; ``reason`` is
                ``insufficient_scope`` or ``permission_denied``.
            Deny: an ``authorize.pre`` hook denied.
            ValueError: ``required_scopes`` is not scopes.
        """
        return await self.run_flow(authorize(principal, _required(required_scopes), permission), request)

    async def register(
        self,
        subject: str,
        *,
        scheme: str = "ed25519",
        attributes: Mapping[str, Any] | None = None,
        request: RequestInfo | None = None,
    ) -> Principal:
        """Register a key-based identity (see :mod:`authhooks.flows.register`).

        Returns:
            The registered principal (``attributes``: yours plus ``scheme`` and ``registered_at``).

        Raises:
            InvalidRequest: malformed subject (``invalid_subject``), unsupported scheme, bad attributes, or
                already registered (``already_registered``).
            Deny: a ``register.pre`` hook denied.
        """
        return await self.run_flow(register(self.deps, subject, scheme, attributes), request)

    def registration_key(self, subject: str, scheme: str) -> str:
        """The store key of ``subject``'s registration under ``scheme`` (canonical form of the subject)."""
        verifier = self.verifiers.get(scheme)
        return registration_key(verifier.scheme, verifier.normalize_subject(validate_subject(subject)))

    async def get_registration(self, subject: str, *, scheme: str = "ed25519") -> Principal | None:
        """The registered principal of ``subject``, or ``None`` (no hooks run; a plain store read).

        Raises:
            InvalidRequest: a malformed subject or an unsupported scheme.
        """
        return registration_from_bytes(await self.store.get(self.registration_key(subject, scheme)))

    async def issue_token(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        token_type: str = "access",
        ttl_seconds: int | None = None,
        request: RequestInfo | None = None,
    ) -> IssuedToken:
        """Sign one JWT for ``subject`` (``issue_token.pre`` may add claims or deny; ``post`` observes).

        Reserved claims (``iss``, ``sub``, ``iat``, ``exp``, ``jti``) are set by the issuer; ``aud`` is the
        first configured audience. A token issued alone belongs to no login (no ``sid``).
        """
        return await self.run_flow(issue_token(self.deps, subject, claims, token_type, ttl_seconds), request)

    async def issue_tokens(
        self,
        subject: str,
        claims: Mapping[str, Any] | None = None,
        *,
        scopes: Iterable[str] = (),
        request: RequestInfo | None = None,
    ) -> TokenPair:
        """Issue an access token and a refresh token starting a new login (refresh family)."""
        return await self.run_flow(issue_tokens(self.deps, subject, claims, scopes), request)

    async def validate_token(self, token: str, *, request: RequestInfo | None = None) -> Principal:
        """Validate an access token and return its principal.

        Raises:
            InvalidToken: a subclass naming why (``token_expired``, ``bad_signature``, ``token_revoked``…).
            Deny: a ``validate_token`` hook denied.
            StoreUnavailableError: the revocation check failed and ``store_failure`` is ``closed``.
            KeySetUnavailableError: no usable verification key.
        """
        return await self.run_flow(validate_token(self.deps, token), request)

    async def refresh_token(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Rotate a refresh token into a new pair of the same login (reuse revokes the whole login).

        Raises:
            InvalidGrant: unknown, expired, revoked or reused.
        """
        return await self.run_flow(refresh_token_flow(self.deps, refresh_token), request)

    async def refresh(self, refresh_token: str, *, request: RequestInfo | None = None) -> TokenPair:
        """Deprecated name of :meth:`refresh_token` (one name per flow); kept for one release."""
        warnings.warn("AuthHooks.refresh is deprecated: use refresh_token", DeprecationWarning, stacklevel=2)
        return await self.refresh_token(refresh_token, request=request)

    async def invalidate_token(self, token: str, *, request: RequestInfo | None = None) -> bool:
        """End the login ``token`` belongs to (an access token with its ``sid``, or a refresh token: the whole
        refresh family); an access token outside any login is revoked by ``jti`` until ``exp``.

        Returns:
            True when something was revoked; False for an invalid or unknown token (RFC 7009 §2.2).
        """
        return await self.run_flow(invalidate_token(self.deps, token), request)

    async def introspect(self, token: str, *, request: RequestInfo | None = None) -> dict[str, Any]:
        """The RFC 7662 §2.2 answer for an access token: its claims when active, else ``{"active": false}``
        (with no reason, whatever the cause)."""
        try:
            return introspection(await self.validate_token(token, request=request))
        except AuthError:
            return {"active": False}

    # -- sign-in with OpenID providers, browser sessions ----------------------------------------------------------

    async def oauth_authorize(
        self, provider: str, *, redirect_uri: str, return_to: str = "/", request: RequestInfo | None = None
    ) -> Authorization:
        """Start a sign-in with ``provider``: the URL to send the browser to, its ``state`` and browser binding
        (:mod:`authhooks.flows.oauth_authorize`)."""
        return await self.run_flow(oauth_authorize(self.deps, self.oauth, provider, redirect_uri, return_to), request)

    async def oauth_callback(
        self,
        provider: str,
        params: Mapping[str, str],
        *,
        binding: str | None = None,
        session: bool = False,
        replaces: str | None = None,
        request: RequestInfo | None = None,
    ) -> ExternalLogin:
        """Finish a sign-in from the callback's query ``params``: a session (``session=True``) or a token pair
        (:mod:`authhooks.flows.oauth_callback`)."""
        call = oauth_callback(self.deps, self.oauth, provider, params, binding, session, replaces)
        return await self.run_flow(call, request)

    async def oauth_refresh(self, provider: str, subject: str, *, request: RequestInfo | None = None) -> ProviderTokens:
        """Refresh the provider's tokens kept for ``subject`` (``keep_tokens``; see :mod:`~.flows.oauth_refresh`)."""
        return await self.run_flow(oauth_refresh(self.deps, self.oauth, provider, subject), request)

    async def provider_tokens(self, provider: str, subject: str) -> ProviderTokens | None:
        """The provider's tokens kept for ``subject``, decrypted, or ``None``."""
        return await self.run_flow(provider_tokens(self.deps, self.oauth, provider, subject))

    async def create_session(
        self,
        principal: Principal,
        *,
        provider: str | None = None,
        replaces: str | None = None,
        family: str | None = None,
        request: RequestInfo | None = None,
    ) -> SessionGrant:
        """Make a browser session for ``principal``, ending ``replaces`` first (rotation); ``family`` links it to the
        refresh family of tokens the same login issued (:mod:`authhooks.flows.session`)."""
        return await self.run_flow(create_session(self.deps, principal, provider, replaces, family), request)

    async def rotate_session(self, session_id: str, *, request: RequestInfo | None = None) -> SessionGrant:
        """A new id for the live session ``session_id`` names, the old one ended: call it after a
        reauthentication and set the new cookies (:func:`authhooks.sessions.grant_cookies`)."""
        return await self.run_flow(rotate_session(self.deps, session_id), request)

    async def validate_session(self, session_id: str, *, request: RequestInfo | None = None) -> ValidSession:
        """The live session a cookie names (touched), or :class:`~authhooks.sessions.InvalidSession`."""
        return await self.run_flow(validate_session(self.deps, session_id), request)

    async def end_session(
        self,
        session_id: str | None = None,
        *,
        handle: str | None = None,
        reason: str = "logout",
        request: RequestInfo | None = None,
    ) -> bool:
        """End the session a cookie's id (or a listing's ``handle``) names, in every instance."""
        return await self.run_flow(end_session(self.deps, session_id, handle, reason), request)

    async def sessions(self, subject: str) -> list[SessionInfo]:
        """The live sessions of ``subject``, oldest first."""
        return await self.run_flow(list_sessions(self.deps, subject))

    async def end_sessions(self, subject: str, *, request: RequestInfo | None = None) -> int:
        """End every session of ``subject`` in every instance; return how many ended."""
        return await self.run_flow(end_sessions(self.deps, subject), request)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK Set of the keys this instance signs and validates with (RFC 7517 §5)."""
        return self.tokens.jwks()

    def signing_algorithms(self) -> tuple[str, ...]:
        """The JWS algorithms of the tokens this instance issues (its signing key's); empty when it only
        validates. The metadata documents list them."""
        issuer = self.tokens.issuer
        return () if issuer is None else (issuer.algorithm,)

    async def authenticate_client(self, credentials: ClientCredentials, use: str) -> Client:
        """Authenticate a registered client for ``use`` (``introspect`` or ``revoke``), off the event loop (the
        PBKDF2 check of a secret not verified before takes ~0.1 s): see :meth:`ClientRegistry.authenticate`.

        Raises:
            InvalidClient: unknown client or wrong secret (401, RFC 6749 §5.2).
            UnauthorizedClient: the client may not ``use`` the endpoint (400).
        """
        return await asyncio.to_thread(self.clients.authenticate, credentials, use)

    async def prepare(self) -> None:
        """Build the token layer and prefetch remote keys (the middleware calls this at startup).

        Raises:
            ConfigurationError: bad keys. A remote key set that is down is logged by the caller, not raised.
        """
        tokens = self.tokens
        if tokens.remote is not None:
            await tokens.remote.get(None)

    def __getattr__(self, name: str) -> Any:
        """The ``*_sync`` names of earlier releases: ``auth.validate_token_sync(t)`` is ``auth.sync.validate_token(t)``
        (deprecated, kept for one release)."""
        if name.endswith("_sync") and not name.startswith("_"):
            target = getattr(self.__dict__.get("sync"), name[: -len("_sync")], None)
            if target is not None:
                new = name[: -len("_sync")]
                warnings.warn(f"AuthHooks.{name} is deprecated: use auth.sync.{new}", DeprecationWarning, stacklevel=2)
                return target
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def setup_telemetry(self, *, exporter: Any = None) -> Any:
        """Build an OpenTelemetry SDK from the ``OTEL_*`` variables (only when none is installed yet) and keep
        its handle, so that :meth:`aclose`/:meth:`close` and the middleware's shutdown flush it.

        Args:
            exporter: ``"compact"`` for the one-line-per-flow console exporter, a ``SpanExporter``, or ``None``
                for what ``OTEL_TRACES_EXPORTER`` says.

        Returns:
            The :class:`~authhooks.telemetry.TelemetryHandle`.
        """
        from authhooks.exporters.setup import setup

        self.telemetry_handle = setup(self.settings, exporter=exporter)
        return self.telemetry_handle

    # -- shutdown ---------------------------------------------------------------------------------------------

    # The budget is shared in order; the hook work may use at most this part of it, so that a hung hook still
    # leaves time to flush the telemetry that records it.
    _HOOKS_SHARE = 0.5

    async def aclose(self, timeout: float | None = None) -> None:
        """Shut down within ``timeout`` seconds (default ``shutdown_timeout_seconds``, 5 s), whatever is down.

        In order: drain the background queue and wait for running hook threads (together at most half the
        budget), close the audit log, close the store, then flush and shut down the telemetry made by
        :meth:`setup_telemetry` with what is left (once: later calls do not flush again). What does not finish
        in its share is abandoned and logged: background tasks are cancelled, hook threads (daemon threads) are
        left to end on their own, an unreachable collector's data is lost.
        """
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        await self._runtime.background.aclose(max(0.0, hooks_deadline - time.monotonic()))
        if not await run_in_thread(
            lambda: self._runner.close(max(0.0, hooks_deadline - time.monotonic())),
            max(0.0, hooks_deadline - time.monotonic()) + 0.05,
            "authhooks-hooks-close",
        ):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        await self.oauth.aclose()
        remote = self._tokens.remote if self._tokens is not None else None
        if remote is not None:  # a background key-set fetch in flight is cancelled
            await remote.aclose(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None:
            try:
                await asyncio.wait_for(store.aclose(), max(0.01, deadline - time.monotonic()))
            except (TimeoutError, asyncio.TimeoutError):
                logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            await self.telemetry_handle.ashutdown(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float | None = None) -> None:
        """The sync twin of :meth:`aclose`, within the same budget (the worker thread is drained; async background
        tasks need ``aclose``)."""
        budget = self.settings.shutdown_timeout_seconds if timeout is None else max(0.0, timeout)
        start = time.monotonic()
        deadline = start + budget
        hooks_deadline = start + budget * self._HOOKS_SHARE
        self._runtime.background.close(max(0.0, hooks_deadline - time.monotonic()))
        if not self._runner.close(max(0.0, hooks_deadline - time.monotonic())):
            logger.warning("authhooks: hooks still running at shutdown were abandoned")
        if self._audit is not None:
            self._audit.close()
        self.oauth.close()
        remote = self._tokens.remote if self._tokens is not None else None
        if remote is not None:
            remote.close(max(0.01, deadline - time.monotonic()))
        store = self._runtime._store
        if store is not None and not run_in_thread_sync(
            store.sync.close, max(0.01, deadline - time.monotonic()), "authhooks-store-close"
        ):
            logger.warning("authhooks: closing the store ran past the shutdown budget; abandoned")
        if self.telemetry_handle is not None:
            self.telemetry_handle.shutdown(max(0.0, deadline - time.monotonic()))

    async def __aenter__(self) -> AuthHooks:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> AuthHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
