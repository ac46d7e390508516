"""``AuthHooksMiddleware``: pure ASGI middleware for Bearer-protected routes, built-in auth routes and observed routes.

Usage (ecosystem.md §2.1-2.2)::

    app.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/api/**"], public_paths=["/api/health"])
    # or
    app = AuthHooksMiddleware(app, auth=auth)

Add ``CORSMiddleware`` and a hand-wired OpenTelemetry middleware *after* this one (so they sit outside it).

Per HTTP/WebSocket request, in order:

1. a built-in route (``{routes_prefix}/…``, HTTP only) is answered by :class:`~authhooks.middleware.routes.AuthRoutes`;
2. a path with a control character (C0, DEL, C1) or a ``.``/``..`` segment is refused with 400 ``invalid_request``
   (:func:`~authhooks.middleware.paths.path_is_safe`: a router's ``^…$`` would take ``/admin%0a`` for ``/admin``);
3. a path that is not protected (or is public) passes as anonymous;
4. otherwise the Bearer token is taken from the ``Authorization`` header (RFC 6750 §2.1), validated with
   ``auth.validate_token`` and, when the path has required scopes, authorized with ``auth.authorize``;
   ``scope["user"]``, ``scope["auth"]`` and ``scope["authhooks"]`` are set (:mod:`authhooks.middleware.scope`);
5. an observed route runs through :class:`~authhooks.middleware.observe.RouteObserver`, anything else goes to
   the app.

A refusal is sent at once (RFC 6750 §3 / RFC 9457, :mod:`authhooks.middleware.responses`) and the app is not
called; one that no flow judged (no or a malformed ``Authorization`` header, a malformed path) is first reported
to the observers as a failed ``validate_token`` run with its reason, so every refused request has a span; a
refused WebSocket handshake is closed before ``accept`` with code 1008 (1011 for a fault). Exceptions raised by
the app itself are never caught here.

Lifespan: on ``lifespan.startup``, before the app starts, the middleware checks what is reachable: the store
answers a ping and ``auth.prepare()`` builds the token layer and fetches the remote key set
(:func:`authhooks._checks.startup_problems`). Each failure is logged as one line naming the variable and the
reason (never a secret); with ``strict_startup=True`` the app is not started and the server gets
``lifespan.startup.failed`` (no traceback). After the
app's shutdown it awaits ``auth.aclose()``, which drains background hooks, waits for running hooks, flushes and
shuts down the telemetry authhooks created and closes the store, all within ``shutdown_timeout_seconds``. The
telemetry is flushed once: only a handle that ``aclose`` left open (an ``auth`` of another kind) is flushed here,
within the same budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from authhooks.errors import AuthError, MissingCredentials
from authhooks.flows.refused import refused_request
from authhooks.hooks.deadlines import run_in_thread
from authhooks.middleware.bearer import parse_authorization
from authhooks.middleware.bodies import ClientDisconnected, read_body
from authhooks.middleware.gate import UNSAFE, Gate, log_startup_problems, resolve
from authhooks.middleware.observe import ObservedRoute, RouteObserver
from authhooks.middleware.responses import Prepared, send_prepared
from authhooks.middleware.scope import FlowAPI, request_info, set_anonymous, set_principal
from authhooks.middleware.seam import ReadBody, RouteRequest, run_async
from authhooks.records import Principal, RequestInfo

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = ["AuthHooksMiddleware"]

logger = logging.getLogger("authhooks.middleware")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_AUTHORIZATION = b"authorization"
_STARTUP_FAILED = "authhooks: start-up checks failed (AUTHHOOKS_STRICT_STARTUP); the reasons are logged above"


class _StartupRefused(Exception):
    """Ends the app's lifespan when a strict start-up failed before the app was started."""


_WS_REASONS = {400: "bad request", 401: "unauthorized", 403: "forbidden"}


def _route_path(scope: Scope) -> str:
    """The path the app routes on: ``scope["path"]`` without the ``root_path`` prefix a server (``--root-path``) or
    a ``Mount`` put in front of it, as Starlette's ``get_route_path`` computes it (``"/"`` for the root itself)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return "/"
    return path[len(root) :] if path[len(root)] == "/" else path


class AuthHooksMiddleware:
    """Pure ASGI middleware: validates Bearer tokens, serves the auth routes, observes the app's own routes.

    Every option falls back to the matching ``AUTHHOOKS_*`` setting of ``auth.settings``; a keyword argument
    given here wins (and is validated like a setting).

    Args:
        app: the ASGI app to protect.
        auth: the :class:`~authhooks.AuthHooks`; ``None`` builds one from the environment (and these options).
        protect: protected path patterns (:mod:`authhooks.middleware.paths`); default ``("/*",)``.
        public_paths: patterns that never need a token (they win over ``protect``).
        optional_auth: let anonymous requests to protected paths pass (a bad token is still refused).
        routes: serve the built-in auth routes (:mod:`authhooks.middleware.routes`).
        routes_prefix: their prefix (default ``/auth``).
        error_format: ``"bearer"`` (RFC 6750/6749 JSON) or ``"problem+json"`` (RFC 9457).
        max_body_bytes: the largest body the auth routes and observed routes read (413 past it).
        realm: the ``realm`` of challenges (default: the service name).
        instrument_asgi: wrap this middleware in ``opentelemetry-instrumentation-asgi``'s middleware, so auth
            spans nest under the server span.
        required_scopes: per-route scopes, ``{"/admin/**": ["admin"]}``; a path needs the scopes of every
            pattern it matches, checked through ``auth.authorize`` (403 ``insufficient_scope``).
        observe: the app's routes to bind to flows (:class:`~authhooks.middleware.observe.ObservedRoute`).
        introspect_scope: the scope a caller needs at ``{prefix}/introspect`` (``""`` for any valid token).
        strict_startup: fail the lifespan startup when ``auth.prepare()`` fails.
        body_timeout: seconds to wait for the whole of a body the middleware reads (408 past it).

    Raises:
        ConfigurationError: a malformed option (pattern, scope, prefix, setting value).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: AuthHooks | None = None,
        protect: Sequence[str] | None = None,
        public_paths: Sequence[str] | None = None,
        optional_auth: bool | None = None,
        routes: bool | None = None,
        routes_prefix: str | None = None,
        error_format: str | None = None,
        max_body_bytes: int | None = None,
        realm: str | None = None,
        instrument_asgi: bool | None = None,
        required_scopes: Mapping[str, Sequence[str] | str] | None = None,
        observe: Sequence[ObservedRoute] = (),
        introspect_scope: str = "introspect",
        strict_startup: bool | None = None,
        body_timeout: float = 10.0,
    ) -> None:
        options: dict[str, Any] = {
            "protect": protect,
            "public_paths": public_paths,
            "optional_auth": optional_auth,
            "routes": routes,
            "routes_prefix": routes_prefix,
            "error_format": error_format,
            "max_body_bytes": max_body_bytes,
            "realm": realm,
            "instrument_asgi": instrument_asgi,
        }
        auth, settings = resolve(auth, options)
        self.app = app
        self.auth = auth
        self.settings = settings
        self._api: FlowAPI = auth  # checked: AuthHooks implements the whole FlowAPI
        gate = self._gate = Gate(auth, settings, required_scopes=required_scopes, introspect_scope=introspect_scope)
        self._scopes = gate.scopes
        self._optional = gate.optional
        self._responses = gate.responses
        self._bad_path_error = gate.bad_path_error
        self._bad_path = gate.bad_path
        self._routes = gate.routes
        self._route_paths = gate.route_paths
        self._body_timeout = body_timeout
        self._plans = gate.plans  # what the path rules say about a path, remembered (Gate.plan)
        self._plan = gate.plan
        self._observer = (
            RouteObserver(
                observe, auth, self._responses, max_body_bytes=settings.max_body_bytes, body_timeout=body_timeout
            )
            if observe
            else None
        )
        self._strict = strict_startup if strict_startup is not None else settings.strict_startup
        self._otel: ASGIApp | None = None
        if settings.instrument_asgi:
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            from authhooks.telemetry.asgi import otel_asgi_options

            # Sanitized: no token from a query string or a captured Authorization header in the server span.
            self._otel = cast(ASGIApp, OpenTelemetryMiddleware(self._dispatch, **otel_asgi_options()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if self._otel is not None:
            await self._otel(scope, receive, send)
        elif scope["type"] == "http":  # the common case, one coroutine less than through _dispatch
            await self._request(scope, receive, send)
        else:
            await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            await self._request(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- requests -------------------------------------------------------------------------------------------

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        if path in self._route_paths and scope["type"] == "http":
            await self._serve_route(path, scope, receive, send)
            return
        plan = self._plans.get(path)
        if plan is None:
            plan = self._plan(path)
        if plan is UNSAFE:
            await self._observe_refusal(self._bad_path_error, request_info(scope))
            await self._refuse(scope, send, self._bad_path)
            return
        forms, protected, bearer = plan
        path = forms[0]
        if not protected:
            set_anonymous(scope, self.auth)
            if self._observer is None:  # the common case, one coroutine less than through _next
                await self.app(scope, receive, send)
            else:
                await self._next(scope, receive, send, path)
            return
        info = request_info(scope)
        principal: Principal | None = None
        judged = False  # whether a flow saw the request (else a refusal is reported by _observe_refusal)
        try:
            sessions = self._gate.sessions
            token = parse_authorization([v for k, v in scope["headers"] if k == _AUTHORIZATION]) if bearer else None
            session_id = None if token is not None else sessions.session_id(scope["headers"], *forms)
            if token is not None:
                judged = True
                principal = await self._api.validate_token(token, request=info)
            elif session_id is not None:
                judged = True
                principal, receive = await self._judge_session(scope, receive, info, session_id)
            elif not self._optional:
                raise MissingCredentials()
            if self._scopes:
                required = self._scopes.required(*forms)
                if required:
                    if principal is None:
                        raise MissingCredentials()
                    principal = await self._api.authorize(principal, required, request=info)
        except Exception as exc:
            response, unjudged = self._gate.refusal(exc, judged, forms)
            if unjudged is not None:
                await self._observe_refusal(unjudged, info)
            if response is not None:
                await self._refuse(scope, send, response)
                return
        if principal is None:
            set_anonymous(scope, self.auth, info)
        else:
            set_principal(scope, self.auth, principal, info)
        if self._observer is None:
            await self.app(scope, receive, send)
        else:
            await self._next(scope, receive, send, path)

    async def _judge_session(
        self, scope: Scope, receive: Receive, info: RequestInfo, session_id: str
    ) -> tuple[Principal, Receive]:
        """The principal of a session cookie (:meth:`~authhooks.middleware.sessions.SessionWeb.judge`); a form body
        read for its CSRF token is handed on to the app through the returned ``receive``."""
        kept: list[bytes] = []

        async def read(effect: ReadBody) -> bytes:
            body = await read_body(receive, effect.limit, effect.content_length, self._body_timeout)
            kept.append(body)
            return body

        judge = self._gate.sessions.judge(scope.get("method", "GET"), scope["headers"], info, session_id)
        principal = await run_async(judge, self._api, read)
        if not kept:
            return principal, receive
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": kept[0], "more_body": False}
            return await receive()

        return principal, replay

    async def _serve_route(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the built-in route at ``path`` (:mod:`authhooks.middleware.routes`) through the async seam."""
        assert self._routes is not None
        method = scope.get("method", "GET")
        headers = scope.get("headers", ())
        request = RouteRequest(method, path, headers, request_info(scope, route=path), scope.get("query_string", b""))

        async def read(effect: ReadBody) -> bytes:
            return await read_body(receive, effect.limit, effect.content_length, self._body_timeout)

        try:
            response = await run_async(self._routes.handle(request), self._api, read)
        except ClientDisconnected:
            return
        await send_prepared(send, response, head=method == "HEAD")

    async def _next(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        observer = self._observer
        if observer is not None and scope["type"] == "http":
            route = observer.match(path, scope["method"])
            if route is not None:
                await observer.run(route, self.app, scope, receive, send, scope["authhooks"]["request"])
                return
        await self.app(scope, receive, send)

    async def _observe_refusal(self, error: AuthError, info: RequestInfo) -> None:
        """Report a refusal no flow judged (missing or malformed credentials, a malformed path) as a failed
        ``validate_token`` run with the refusal's reason, so telemetry and the audit log see every refused
        request (:mod:`authhooks.flows.refused`). An ``auth`` without ``run_flow`` is left unobserved."""
        run_flow = getattr(self.auth, "run_flow", None)
        if run_flow is None:
            return
        try:
            await run_flow(refused_request(error), info)
        except Exception:
            logger.exception("authhooks: reporting a refused request to the observers failed")

    async def _refuse(self, scope: Scope, send: Send, response: Prepared) -> None:
        if scope["type"] == "websocket":
            # ASGI: a close before accept refuses the handshake (the server answers 403).
            code = 1008 if response.status < 500 else 1011
            await send({"type": "websocket.close", "code": code, "reason": _WS_REASONS.get(response.status, "")})
            return
        await send_prepared(send, response)

    # -- lifespan -------------------------------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        prepared = True
        refused = False  # strict start-up failed: the app was never started and its messages are not the server's

        async def wrapped_receive() -> Message:
            nonlocal prepared, refused
            message = await receive()
            if message.get("type") == "lifespan.startup":
                prepared = await self._startup()
                if not prepared and self._strict:
                    # Refused before the app starts: had it started, it would wait for a shutdown that never
                    # comes, and the server would log its cancellation as a traceback.
                    refused = True
                    await send({"type": "lifespan.startup.failed", "message": _STARTUP_FAILED})
                    raise _StartupRefused
            return message

        async def wrapped_send(message: Message) -> None:
            if refused:
                return
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._shutdown()
            await send(message)

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except _StartupRefused:
            pass
        except Exception:
            if not refused:
                raise
        if refused:
            await self._shutdown()

    async def _startup(self) -> bool:
        """Check what is reachable (store ping, keys, key set fetch); log one line per failure; True when none."""
        from authhooks._checks import startup_problems

        try:
            problems = await startup_problems(self.auth)
        except Exception as exc:  # a stand-in auth, or a check that itself broke: still one line
            problems = [f"{type(exc).__name__} during the start-up checks"]
        log_startup_problems(problems, self._strict)
        return not problems

    async def _shutdown(self) -> None:
        budget = float(getattr(getattr(self.auth, "settings", None), "shutdown_timeout_seconds", 5.0))
        deadline = time.monotonic() + budget
        try:
            await self.auth.aclose()
        except Exception as exc:
            logger.warning("authhooks: closing failed with %s", type(exc).__name__)
        handle = getattr(self.auth, "telemetry_handle", None)
        flush = getattr(handle, "force_flush", None)
        if callable(flush) and not getattr(handle, "closed", False):  # aclose flushed it already
            try:
                if not await run_in_thread(flush, deadline - time.monotonic(), "authhooks-telemetry-flush"):
                    logger.warning("authhooks: telemetry flush abandoned after the %.1f s shutdown budget", budget)
            except Exception as exc:
                logger.warning("authhooks: telemetry flush failed with %s", type(exc).__name__)
