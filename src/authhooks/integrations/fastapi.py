"""FastAPI dependencies for the principal that :class:`~authhooks.middleware.AuthHooksMiddleware` validated.

The middleware does the work (Bearer validation, hooks, telemetry); these dependencies hand its result to your
path operations and declare the Bearer scheme so the OpenAPI schema (and the docs' "Authorize" button) shows
which routes need a token and which scopes::

    from authhooks.integrations.fastapi import CurrentPrincipal, require_scopes

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, bool]:
        return {"ok": True}

Everything follows FastAPI's own security idioms (``docs_src/security/tutorial005``):

- :func:`current_principal` (and ``CurrentPrincipal``, its ``Annotated`` alias) answers **401** with an RFC 6750
  ``WWW-Authenticate`` challenge when the request is anonymous. Under ``Security(current_principal,
  scopes=[...])`` it also checks the scopes.
- :func:`optional_principal` returns ``None`` for an anonymous request.
- :func:`require_scopes` answers **403** ``insufficient_scope`` (RFC 6750 §3.1, not the 401 of the FastAPI
  tutorial) and works under ``Depends``, ``Security`` or in ``dependencies=[...]``. When the middleware's
  :class:`~authhooks.AuthHooks` instance is known, the check runs its ``authorize`` flow, so ``authorize.*``
  hooks fire (and may grant, deny or change the scopes) and telemetry records it.

:func:`install` wires it all in one call: the middleware, the built-in ``/auth/*`` routes in the OpenAPI document
with an OAuth2 password security scheme (so the docs' "Authorize" button logs in through ``login.provide``
hooks), 401/403 answers on protected operations, public docs pages, and one error body shape (the middleware's)
for the dependencies' 401/403 too::

    app = FastAPI()
    install(app, auth, protect=["/api/**"])

The dependencies need the middleware: used without it (and without an instance bound by
:class:`AuthHooksSecurity`), they raise :class:`~authhooks.errors.ConfigurationError` naming the fix (a 500,
logged once), rather than answering every request 401.

The module-level names find the ``AuthHooks`` instance in the request scope. To bind one explicitly (e.g. when a
route outside the middleware's protected paths should still validate a token), build your own set with
:class:`AuthHooksSecurity`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from authhooks.errors import AuthError, ConfigurationError, InsufficientScope, InvalidToken, MissingCredentials
from authhooks.integrations._openapi import OAUTH2_SCHEME, AuthDocs
from authhooks.integrations.starlette import SCOPE_KEY, auth_of, principal_of, request_info_of
from authhooks.metadata import IssuerMetadata
from authhooks.middleware import AuthHooksMiddleware
from authhooks.middleware.gate import SETTING_OPTIONS, normalise_prefix
from authhooks.middleware.responses import FAULTS, Prepared, Responses
from authhooks.records import Principal, RequestInfo

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = [
    "OAUTH2_SCHEME",
    "AuthHTTPException",
    "AuthHooksBearer",
    "AuthHooksSecurity",
    "CurrentPrincipal",
    "OptionalPrincipal",
    "bearer_scheme",
    "auth_exception_handler",
    "current_principal",
    "docs_paths",
    "http_exception",
    "install",
    "optional_principal",
    "require_scopes",
]

_DEFAULT_REALM = "authhooks"
_FAULT_DETAIL = "The service could not complete the authentication check."
logger = logging.getLogger("authhooks.integrations.fastapi")


class AuthHooksBearer(SecurityBase):
    """The Bearer security scheme, for the OpenAPI schema; as a dependency it returns the raw token or ``None``.

    It never rejects (FastAPI's ``auto_error=False``): rejecting is the middleware's job, and anonymous access
    to optional routes must keep working. The token it returns is only used when no principal was stored,
    to validate it through the :class:`~authhooks.AuthHooks` instance.

    Args:
        scheme_name: the name of the scheme in ``components.securitySchemes``.
        description: shown in the docs.
        bearer_format: the ``bearerFormat`` hint (``JWT``).
    """

    def __init__(
        self,
        *,
        scheme_name: str = "AuthHooksBearer",
        description: str | None = "A Bearer access token (RFC 6750) issued by POST /auth/login.",
        bearer_format: str | None = "JWT",
    ) -> None:
        self.model = HTTPBearerModel(bearerFormat=bearer_format, description=description)
        self.scheme_name = scheme_name
        self.auto_error = False

    async def __call__(self, request: HTTPConnection) -> str | None:
        """The Bearer token of the ``Authorization`` header, or ``None``."""
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return token


bearer_scheme = AuthHooksBearer()
"""The default scheme instance shared by the module-level dependencies."""


class AuthHTTPException(HTTPException):
    """An ``HTTPException`` that carries the exact response the middleware would send for the same rejection.

    FastAPI's default handler answers it as ``{"detail": …}`` with the middleware's status and headers;
    :func:`auth_exception_handler` (which :func:`install` registers) answers with the middleware's own body, so
    a 401/403 from a dependency and one from the middleware are byte-for-byte alike.

    Attributes:
        response: the middleware's response (status, headers, body).
    """

    def __init__(self, response: Prepared, detail: str) -> None:
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in response.headers
            if name not in (b"content-length", b"content-type")
        }
        super().__init__(status_code=response.status, detail=detail, headers=headers)
        self.response = response


@functools.lru_cache(maxsize=32)
def _responses(realm: str, error_format: str) -> Responses:
    return Responses(realm, error_format)


def _builder(auth: AuthHooks | None) -> Responses:
    if auth is None:
        return _responses(_DEFAULT_REALM, "bearer")
    return _responses(auth.settings.effective_realm, auth.settings.error_format)


def http_exception(error: AuthError, auth: AuthHooks | None = None) -> AuthHTTPException:
    """An ``HTTPException`` with the status, RFC 6750 challenge headers and body the middleware would send.

    The ``detail`` is the error's generic description (never token contents); a hook's
    :class:`~authhooks.errors.Deny` keeps its own status and headers (``Retry-After``…).

    Args:
        error: the rejection.
        auth: the instance whose realm and error format to use (default realm ``authhooks``).
    """
    return AuthHTTPException(_builder(auth).error(error), error.description)


async def auth_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer an :class:`AuthHTTPException` with the middleware's response (status, headers and body).

    Register it with ``app.add_exception_handler(AuthHTTPException, auth_exception_handler)`` when you add the
    middleware by hand; :func:`install` does.
    """
    if not isinstance(exc, AuthHTTPException):  # registered for AuthHTTPException only
        raise exc
    prepared = exc.response
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in prepared.headers if n != b"content-length"]
    response = Response(content=prepared.body, status_code=prepared.status)
    for name, value in headers:
        response.headers.append(name, value)
    return response


class AuthHooksSecurity:
    """A set of dependencies bound to one :class:`~authhooks.AuthHooks` instance and one security scheme.

    Args:
        auth: the instance whose ``authorize`` flow checks scopes and whose ``validate_token`` validates a token
            the middleware did not (a route outside its protected paths). ``None``: use the instance the
            middleware stores in the request scope, and when there is none, check scopes locally.
        scheme: the security scheme shown in OpenAPI (default :data:`bearer_scheme`).

    Attributes:
        current_principal: the dependency returning the :class:`~authhooks.records.Principal` (401 when anonymous;
            under ``Security(..., scopes=[...])`` also 403 without the scopes).
        optional_principal: the dependency returning the principal or ``None``.
        CurrentPrincipal: ``Annotated[Principal, Depends(current_principal)]``.
        OptionalPrincipal: ``Annotated[Principal | None, Depends(optional_principal)]``.

    Bind the instance (and any alias of ``CurrentPrincipal``) at module level: with
    ``from __future__ import annotations`` FastAPI resolves parameter annotations in the module's globals::

        service = AuthHooksSecurity(auth)
        ServicePrincipal = service.CurrentPrincipal

        @app.get("/me")
        async def me(principal: ServicePrincipal) -> dict[str, str]: ...
    """

    def __init__(self, auth: AuthHooks | None = None, *, scheme: AuthHooksBearer | None = None) -> None:
        self.auth = auth
        self.scheme = scheme if scheme is not None else bearer_scheme
        self._reported_missing = False
        self.current_principal = self._dependency(optional=False)
        self.optional_principal = self._dependency(optional=True)
        self.CurrentPrincipal: Any = Annotated[Principal, Depends(self.current_principal)]
        self.OptionalPrincipal: Any = Annotated[Principal | None, Depends(self.optional_principal)]

    def _dependency(self, *, optional: bool) -> Callable[..., Awaitable[Principal | None]]:
        token_param = Depends(self.scheme)
        resolve = self._resolve

        async def dependency(
            request: HTTPConnection, security_scopes: SecurityScopes, token: str | None = token_param
        ) -> Principal | None:
            return await resolve(request, security_scopes.scopes, token, optional=optional)

        dependency.__name__ = "optional_principal" if optional else "current_principal"
        dependency.__qualname__ = dependency.__name__
        dependency.__doc__ = (
            "The principal the middleware validated, or None for an anonymous request."
            if optional
            else "The principal the middleware validated; 401 with a Bearer challenge when anonymous."
        )
        return dependency

    def require_scopes(self, *scopes: str) -> Any:
        """A dependency that requires every scope in ``scopes``; it returns the principal.

        Use it in ``dependencies=[require_scopes("admin")]`` or to receive the principal:
        ``principal: Annotated[Principal, require_scopes("admin")]``. The scopes show in the route's OpenAPI
        security requirement.

        Returns:
            a ``fastapi.params.Security`` marker: 401 when anonymous, 403 ``insufficient_scope`` without the
            scopes (or the status of an ``authorize.pre`` hook's denial).
        """
        if not scopes:
            raise ValueError("require_scopes() needs at least one scope")
        return Security(self.current_principal, scopes=list(scopes))

    async def _resolve(
        self, request: HTTPConnection, scopes: list[str], token: str | None, *, optional: bool
    ) -> Principal | None:
        if self.auth is None and SCOPE_KEY not in request.scope:
            self._missing_middleware(request)
        auth = self.auth if self.auth is not None else auth_of(request)
        principal = principal_of(request)
        info = request_info_of(request)
        try:
            if principal is None and token is not None and auth is not None:
                # A route the middleware let through without validating (a public path): validate here, so a
                # bad token is refused rather than silently treated as anonymous.
                principal = await auth.validate_token(token, request=info)
            if principal is None:
                if optional:
                    return None
                if token is not None:
                    # A token was sent but nothing validated it: refuse it rather than pretend it was absent.
                    raise InvalidToken()
                raise MissingCredentials()
            if scopes:
                principal = await self._authorize(auth, principal, tuple(scopes), info)
        except AuthError as exc:
            raise http_exception(exc, auth) from None
        except FAULTS as exc:
            # The service could not decide (store or key set down, a misbehaving hook): 503, as the middleware
            # answers, with a generic text; the exception type is logged, never shown.
            logger.warning("authhooks: a dependency could not decide (%s)", type(exc).__name__)
            raise AuthHTTPException(_builder(auth).faults[503], _FAULT_DETAIL) from None
        return principal

    def _missing_middleware(self, request: HTTPConnection) -> None:
        """Refuse to guess: without the middleware nothing validated the request, and a 401 would hide why."""
        message = (
            f"authhooks: {request.url.path} uses CurrentPrincipal/require_scopes but AuthHooksMiddleware did not "
            "handle the request (no scope['authhooks']). Add it: "
            "authhooks.integrations.fastapi.install(app, auth), or app.add_middleware(AuthHooksMiddleware, "
            "auth=auth); or bind an instance: AuthHooksSecurity(auth)."
        )
        if not self._reported_missing:
            self._reported_missing = True
            logger.error("%s", message)
        raise ConfigurationError(message)

    async def _authorize(
        self, auth: AuthHooks | None, principal: Principal, scopes: tuple[str, ...], info: RequestInfo | None
    ) -> Principal:
        if auth is not None:
            # The authorize flow runs the authorize.* hooks (which may grant, deny or change the scopes) and
            # raises InsufficientScope or a hook's Deny.
            return await auth.authorize(principal, scopes, request=info)
        if not principal.has_scopes(scopes):
            raise InsufficientScope(required_scopes=scopes)
        return principal


_default = AuthHooksSecurity()

current_principal: Callable[..., Awaitable[Principal | None]] = _default.current_principal
"""The principal the middleware validated; 401 with an RFC 6750 challenge when anonymous.

Under ``Security(current_principal, scopes=["admin"])`` it also requires the scopes (403 ``insufficient_scope``).
"""

optional_principal: Callable[..., Awaitable[Principal | None]] = _default.optional_principal
"""The principal the middleware validated, or ``None`` for an anonymous request (a bad token is still 401)."""

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
"""``principal: CurrentPrincipal`` in a path operation receives the validated principal (401 when anonymous)."""

OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
"""``principal: OptionalPrincipal`` receives the principal or ``None``."""


def require_scopes(*scopes: str) -> Any:
    """Require every scope in ``scopes``: 403 ``insufficient_scope`` otherwise (RFC 6750 §3.1).

    The check runs the middleware's ``authorize`` flow (so ``authorize.*`` hooks fire) when its
    :class:`~authhooks.AuthHooks` instance is in the request scope; the scopes are listed in the route's OpenAPI
    security requirement. See :meth:`AuthHooksSecurity.require_scopes`.
    """
    return _default.require_scopes(*scopes)


_DOCS_ATTRIBUTES = ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")
_SETTING_OPTIONS = (*SETTING_OPTIONS, "instrument_asgi")


def docs_paths(app: FastAPI) -> tuple[str, ...]:
    """The app's documentation paths: ``openapi_url``, ``docs_url``, ``redoc_url`` and the OAuth2 redirect page
    of Swagger UI (``/openapi.json``, ``/docs``, ``/redoc``, ``/docs/oauth2-redirect`` by default), those set."""
    paths = [getattr(app, name) for name in _DOCS_ATTRIBUTES]
    if app.docs_url is None:
        paths[3] = None  # no Swagger UI, no redirect page
    return tuple(p for p in paths if isinstance(p, str) and p)


def install(app: FastAPI, auth: AuthHooks, *, docs_public: bool = True, **middleware_options: Any) -> None:
    """Protect a FastAPI app with authhooks and document it.

    1. adds :class:`~authhooks.middleware.AuthHooksMiddleware` with ``middleware_options`` (``protect``,
       ``public_paths``, ``required_scopes``…, as its keyword arguments);
    2. with ``docs_public`` (the default), adds the docs paths (:func:`docs_paths`) to ``public_paths``, so the
       default ``protect=["/*"]`` does not close ``/docs`` and ``/openapi.json``; pass ``docs_public=False`` to
       keep them behind a token;
    3. registers :func:`auth_exception_handler`, so the dependencies' 401/403 bodies are the middleware's;
    4. extends the OpenAPI document: the built-in routes (``{routes_prefix}/login``…) with their request and
       response models, an OAuth2 password security scheme (:data:`OAUTH2_SCHEME`) whose ``tokenUrl`` is the
       login route (the docs' "Authorize" button posts ``grant_type=password`` there, which ``login.provide``
       hooks check), and, on every operation the middleware protects or a dependency guards, that security
       requirement with its scopes and the 401 (and, with scopes, 403) answers.

    Call it once, before the app starts (Starlette freezes the middleware stack at the first request).

    Raises:
        ConfigurationError: a malformed option (as the middleware would raise it).
    """
    options = dict(middleware_options)
    overrides = {name: options[name] for name in _SETTING_OPTIONS if options.get(name) is not None}
    settings = auth.settings.replace(**overrides) if overrides else auth.settings
    if docs_public:
        extra = [p for p in docs_paths(app) if p not in settings.public_paths]
        if extra:
            options["public_paths"] = [*settings.public_paths, *extra]
            settings = settings.replace(public_paths=options["public_paths"])
    app.add_middleware(AuthHooksMiddleware, auth=auth, **options)
    app.add_exception_handler(AuthHTTPException, auth_exception_handler)
    prefix = settings.routes_prefix.rstrip("/")
    docs = AuthDocs(
        protect=tuple(settings.protect),
        public_paths=tuple(settings.public_paths),
        required_scopes=dict(options.get("required_scopes") or {}),
        routes_prefix=prefix if settings.routes else None,
        root_path=app.root_path.rstrip("/"),
        problem_json=settings.error_format == "problem+json",
        introspect_scope=str(options.get("introspect_scope", "introspect")),
        metadata=IssuerMetadata.from_settings(settings, normalise_prefix(settings.routes_prefix)),
        clients=bool(settings.clients) or settings.clients_file is not None,
    )
    generate = app.openapi
    app.openapi_schema = None

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = docs.apply(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
