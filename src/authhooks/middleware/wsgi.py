"""``AuthHooksWSGIMiddleware``: the WSGI driver of the middleware (PEP 3333), on the same core as the ASGI one.

Usage::

    from authhooks import AuthHooks
    from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware

    auth = AuthHooks()
    app.wsgi_app = AuthHooksWSGIMiddleware(app.wsgi_app, auth=auth, protect=["/api/**"])   # Flask
    application = AuthHooksWSGIMiddleware(get_wsgi_application(), auth=auth)              # any WSGI app

It takes the options of :class:`~authhooks.middleware.asgi.AuthHooksMiddleware` (``instrument_wsgi`` in place of
``instrument_asgi``; no ``body_timeout``: under WSGI the server bounds how long a body may take) and answers the
same inputs with the same statuses, headers and bodies: the same path rules (:mod:`~authhooks.middleware.paths`, on
``PATH_INFO``: ``SCRIPT_NAME`` is the mount point, like ``root_path``), the strict Bearer parser (RFC 6750 §2.1),
the RFC 6750 §3 / RFC 9457 refusals, the built-in routes (:mod:`~authhooks.middleware.routes`, run through
:func:`~authhooks.middleware.seam.run_sync`), per-route scopes and observe mode. Only the sync driver runs
(``auth.sync``): building the middleware refuses an ``AuthHooks`` holding an async hook or condition, naming it, and
a later registration of one is refused too (:meth:`AuthHooks.require_sync <authhooks.AuthHooks.require_sync>`).

On a request that passes, ``environ`` carries ``authhooks.principal`` (the
:class:`~authhooks.records.Principal`, ``None`` when anonymous), ``authhooks.request`` (the
:class:`~authhooks.records.RequestInfo` hooks saw) and ``authhooks.auth``; an authenticated one also sets
``REMOTE_USER`` to the subject (PEP 3333 / CGI: what ``RemoteUserBackend`` and other WSGI tools read). The raw
token is never put in ``environ`` beyond the ``HTTP_AUTHORIZATION`` the server put there.

Observe mode reads the body from ``wsgi.input`` (``CONTENT_LENGTH`` bytes, at most ``max_body_bytes``: 413 past it)
and replays it to the app as a fresh ``wsgi.input`` with ``CONTENT_LENGTH`` set to its length; the notification
hooks run when the server closes the response iterable (after the response is sent).

Start-up and shutdown (no lifespan in WSGI): the start-up checks (the store answers a ping, the token layer
builds, the remote key set is fetched) run when the middleware is built; each failure is logged, and with
``strict_startup`` building raises :class:`~authhooks.errors.ConfigurationError`. :meth:`close` (registered with
:mod:`atexit`, so it also runs at interpreter exit) drains the background hook queue (its worker thread), waits for
hook threads, closes the store and flushes the telemetry, within ``shutdown_timeout_seconds``.

With ``instrument_wsgi`` (``AUTHHOOKS_INSTRUMENT_WSGI=true``, the ``wsgi`` extra) the middleware wraps itself in
``opentelemetry-instrumentation-wsgi``'s middleware, so flow spans nest under its server span; credentials are
masked in that span's URL and captured-header attributes.
"""

from __future__ import annotations

import atexit
import io
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from authhooks.errors import AuthError, ConfigurationError, MissingCredentials
from authhooks.flows.refused import refused_request
from authhooks.middleware.bearer import parse_authorization
from authhooks.middleware.bodies import ClientDisconnected, read_wsgi_body
from authhooks.middleware.environ import (
    INCOMPLETE_BODY,
    Environ,
    EnvironHeaders,
    StartResponse,
    WSGIApp,
    route_path,
    send,
    wsgi_request_info,
)
from authhooks.middleware.gate import UNSAFE, Gate, log_startup_problems, resolve
from authhooks.middleware.observe import ObservedRoute, RouteObserver
from authhooks.middleware.responses import Prepared
from authhooks.middleware.seam import ReadBody, RouteRequest, run_sync
from authhooks.middleware.wsgi_observe import WSGIObserver
from authhooks.records import Principal, RequestInfo

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = ["AUTH_KEY", "PRINCIPAL_KEY", "REQUEST_KEY", "AuthHooksWSGIMiddleware", "send"]

logger = logging.getLogger("authhooks.middleware")


PRINCIPAL_KEY = "authhooks.principal"
"""The ``environ`` key of the request's :class:`~authhooks.records.Principal` (``None`` when anonymous)."""
REQUEST_KEY = "authhooks.request"
"""The ``environ`` key of the :class:`~authhooks.records.RequestInfo` hooks saw."""
AUTH_KEY = "authhooks.auth"
"""The ``environ`` key of the :class:`~authhooks.AuthHooks` that judged the request."""


def _redact_server_span(span: Any, environ: Mapping[str, Any]) -> None:
    """The instrumentation's ``request_hook``: mask credentials in the URL attributes (as under ASGI) and in the
    request headers captured through ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST``."""
    from authhooks._redact import REDACTED, SENSITIVE_HEADERS
    from authhooks.telemetry.asgi import redact_server_span

    redact_server_span(span, {"query_string": environ.get("QUERY_STRING", "")})
    attributes = getattr(span, "attributes", None) or {}
    for name in SENSITIVE_HEADERS:
        key = f"http.request.header.{name.replace('-', '_')}"
        if key in attributes:
            span.set_attribute(key, [REDACTED])


class AuthHooksWSGIMiddleware:
    """WSGI middleware: validates Bearer tokens, serves the auth routes, observes the app's own routes.

    Every option falls back to the matching ``AUTHHOOKS_*`` setting of ``auth.settings``; a keyword argument given
    here wins (and is validated like a setting). See :class:`~authhooks.middleware.asgi.AuthHooksMiddleware` for
    each option; ``instrument_wsgi`` wraps this middleware in ``opentelemetry-instrumentation-wsgi``'s.

    Raises:
        ConfigurationError: a malformed option; an async hook or condition on ``auth`` (named); with
            ``strict_startup``, a failed start-up check.
    """

    def __init__(
        self,
        app: WSGIApp,
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
        instrument_wsgi: bool | None = None,
        required_scopes: Mapping[str, Sequence[str] | str] | None = None,
        observe: Sequence[ObservedRoute] = (),
        introspect_scope: str = "introspect",
        strict_startup: bool | None = None,
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
            "instrument_wsgi": instrument_wsgi,
        }
        auth, settings = resolve(auth, options)
        auth.require_sync(type(self).__name__)
        self.app = app
        self.auth = auth
        self.settings = settings
        self._sync = auth.sync
        gate = self._gate = Gate(auth, settings, required_scopes=required_scopes, introspect_scope=introspect_scope)
        self._scopes = gate.scopes
        self._optional = gate.optional
        self._responses = gate.responses
        self._routes = gate.routes
        self._route_paths = gate.route_paths
        self._plans = gate.plans  # what the path rules say about a path, remembered (Gate.plan)
        self._observer = (
            WSGIObserver(
                RouteObserver(observe, auth, gate.responses, max_body_bytes=settings.max_body_bytes),
                app,
                gate.responses,
                self._sync.fire,
            )
            if observe
            else None
        )
        self._strict = strict_startup if strict_startup is not None else settings.strict_startup
        self._close_lock = threading.Lock()
        self._closed = False
        self._entry: WSGIApp = self._dispatch
        if settings.instrument_wsgi:
            from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

            self._entry = OpenTelemetryMiddleware(self._dispatch, request_hook=_redact_server_span)
        self._startup()
        atexit.register(self.close)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        return self._entry(environ, start_response)

    # -- requests -------------------------------------------------------------------------------------------

    def _dispatch(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = route_path(environ)
        if path in self._route_paths:
            return self._serve_route(path, environ, start_response)
        plan = self._plans.get(path)
        if plan is None:
            plan = self._gate.plan(path)
        if plan is UNSAFE:
            self._observe_refusal(self._gate.bad_path_error, wsgi_request_info(environ))
            return send(start_response, self._gate.bad_path)
        forms, protected, bearer = plan
        path = forms[0]
        if not protected:
            environ[PRINCIPAL_KEY] = None
            environ[REQUEST_KEY] = wsgi_request_info(environ)
            environ[AUTH_KEY] = self.auth
            return self._next(environ, start_response, path)
        info = wsgi_request_info(environ)
        principal: Principal | None = None
        judged = False
        try:
            token, session_id = self._credentials(environ, forms, bearer)
            judged = token is not None or session_id is not None
            principal = self._judge(environ, info, token, session_id)
            if principal is None and not self._optional:
                raise MissingCredentials()
            if self._scopes:
                required = self._scopes.required(*forms)
                if required:
                    if principal is None:
                        raise MissingCredentials()
                    principal = self._sync.authorize(principal, required, request=info)
        except Exception as exc:
            response, unjudged = self._gate.refusal(exc, judged, forms)
            if unjudged is not None:
                self._observe_refusal(unjudged, info)
            if response is not None:
                return send(start_response, response)
        environ[PRINCIPAL_KEY] = principal
        environ[REQUEST_KEY] = info
        environ[AUTH_KEY] = self.auth
        if principal is not None:
            environ["REMOTE_USER"] = principal.subject
        return self._next(environ, start_response, path)

    def require(self, environ: Environ, scopes: Sequence[str] = ()) -> Prepared | None:
        """The view-level check behind the Flask and Django ``require_scopes`` decorators.

        The request's principal is the one the middleware validated; on a path the middleware does not protect
        (or let through anonymous), the credential the request carries is judged here as on a protected path: a
        Bearer token on ``bearer_paths``, else, with ``sessions``, the session cookie on ``session_paths`` (CSRF
        rule included). The principal must then hold ``scopes``, checked through ``auth.sync.authorize`` (so
        ``authorize.*`` hooks run); ``environ`` is updated with what ``authorize`` returned.

        Returns:
            ``None`` when the request may go on, else the refusal to send: 401 with a bare challenge when there is
            no credential (RFC 6750 §3.1), 401 ``invalid_token`` (or the session's refusal), 403
            ``insufficient_scope`` naming the scopes.
        """
        principal: Principal | None = environ.get(PRINCIPAL_KEY)
        info: RequestInfo = environ.get(REQUEST_KEY) or wsgi_request_info(environ)
        try:
            if principal is None:
                forms, _, bearer = self._gate.plan(route_path(environ))
                token, session_id = self._credentials(environ, forms, bearer)
                principal = self._judge(environ, info, token, session_id)
                if principal is None:
                    raise MissingCredentials()
                environ["REMOTE_USER"] = principal.subject
            if scopes:
                principal = self._sync.authorize(principal, tuple(scopes), request=info)
        except Exception as exc:
            return self._responses.for_exception(exc)
        environ[PRINCIPAL_KEY] = principal
        environ[REQUEST_KEY] = info
        environ[AUTH_KEY] = self.auth
        return None

    def _credentials(self, environ: Environ, forms: tuple[str, ...], bearer: bool) -> tuple[str | None, str | None]:
        """``(token, session_id)``: the Bearer token when the path takes one (``bearer``, from its
        :meth:`~authhooks.middleware.gate.Gate.plan`) and the request carries one, else the session cookie when the
        path (in all its ``forms``) takes sessions (``session_paths``, with ``sessions``); ``(None, None)`` when it
        offers neither.

        Raises:
            MissingCredentials / InvalidRequest: a malformed ``Authorization`` header (RFC 6750 §2.1).
        """
        sessions = self._gate.sessions
        header = environ.get("HTTP_AUTHORIZATION") if bearer else None
        token = parse_authorization([] if header is None else [header.encode("latin-1", "replace")])
        if token is not None or not sessions.enabled:
            return token, None
        return None, sessions.session_id(list(EnvironHeaders(environ)), *forms)

    def _judge(
        self, environ: Environ, info: RequestInfo, token: str | None, session_id: str | None
    ) -> Principal | None:
        """The principal of the credential :meth:`_credentials` found (``validate_token``, or the session's
        judgement), ``None`` without one."""
        if token is not None:
            return self._sync.validate_token(token, request=info)
        if session_id is not None:
            return self._judge_session(environ, info, session_id)
        return None

    def _judge_session(self, environ: Environ, info: RequestInfo, session_id: str) -> Principal:
        """The principal of a session cookie (:meth:`~authhooks.middleware.sessions.SessionWeb.judge`); a form body
        read for its CSRF token is put back as ``wsgi.input`` for the app."""
        kept: list[bytes] = []

        def read(effect: ReadBody) -> bytes:
            body = read_wsgi_body(
                environ["wsgi.input"], effect.limit, effect.content_length, bool(environ.get("wsgi.input_terminated"))
            )
            kept.append(body)
            return body

        method = environ.get("REQUEST_METHOD", "GET")
        judge = self._gate.sessions.judge(method, list(EnvironHeaders(environ)), info, session_id)
        principal = run_sync(judge, self._sync, read)
        if kept:
            environ["wsgi.input"] = io.BytesIO(kept[0])
            environ["CONTENT_LENGTH"] = str(len(kept[0]))
        return principal

    def _serve_route(self, path: str, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Run the built-in route at ``path`` through the sync seam (:mod:`authhooks.middleware.seam`)."""
        assert self._routes is not None
        method = environ.get("REQUEST_METHOD", "GET")
        request = RouteRequest(
            method,
            path,
            list(EnvironHeaders(environ)),
            wsgi_request_info(environ, route=path),
            environ.get("QUERY_STRING", "").encode("latin-1", "replace"),
        )

        def read(effect: ReadBody) -> bytes:
            return read_wsgi_body(
                environ["wsgi.input"], effect.limit, effect.content_length, bool(environ.get("wsgi.input_terminated"))
            )

        try:
            response = run_sync(self._routes.handle(request), self._sync, read)
        except ClientDisconnected:  # the client is gone: whatever is answered, nobody reads it
            response = self._responses.error(INCOMPLETE_BODY, challenge=False)
        return send(start_response, response, head=method == "HEAD")

    def _next(self, environ: Environ, start_response: StartResponse, path: str) -> Iterable[bytes]:
        observer = self._observer
        if observer is not None:
            route = observer.match(path, environ.get("REQUEST_METHOD", "GET"))
            if route is not None:
                return observer(route, environ[PRINCIPAL_KEY], environ[REQUEST_KEY], environ, start_response)
        return self.app(environ, start_response)

    def _observe_refusal(self, error: AuthError, info: RequestInfo) -> None:
        """Report a refusal no flow judged as a failed ``validate_token`` run (:mod:`authhooks.flows.refused`)."""
        try:
            self.auth.run_flow_sync(refused_request(error), info)
        except Exception:
            logger.exception("authhooks: reporting a refused request to the observers failed")

    # -- start-up and shutdown ------------------------------------------------------------------------------

    def _startup(self) -> None:
        """Check what is reachable (store ping, keys, key set fetch) now; log one line per failure; with
        ``strict_startup`` raise when any failed."""
        from authhooks._checks import _fetch_failures, problem_line
        from authhooks.errors import StoreError

        problems: list[str] = []
        store_failed = False
        try:
            self.auth.store.sync.ping()
        except Exception as exc:
            store_failed = True
            problems.append(problem_line(exc, self.settings))
        with _fetch_failures() as fetches:
            try:
                self._sync.prepare()
            except Exception as exc:
                if not (store_failed and isinstance(exc, StoreError)):
                    problems.append(problem_line(exc, self.settings, fetches.reasons[-1] if fetches.reasons else None))
        log_startup_problems(problems, self._strict)
        if problems and self._strict:
            raise ConfigurationError(
                "authhooks: start-up checks failed (AUTHHOOKS_STRICT_STARTUP): " + "; ".join(problems)
            )

    def close(self, timeout: float | None = None) -> None:
        """Drain the background hooks, wait for hook threads, close the store and flush the telemetry, within
        ``timeout`` seconds (default ``shutdown_timeout_seconds``); once (later calls return at once). Registered
        with :mod:`atexit`; call it from a server's worker-exit hook to drain earlier."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        try:
            self.auth.close(timeout)
        except Exception as exc:
            logger.warning("authhooks: closing failed with %s", type(exc).__name__)
