"""Flask integration: install the WSGI middleware, read the principal, require scopes on a view.

::

    from flask import Flask
    from authhooks import AuthHooks
    from authhooks.integrations.flask import current_principal, init_app, require_scopes

    app = Flask(__name__)
    init_app(app, AuthHooks(), protect=["/me", "/admin"])

    @app.get("/me")
    def me():
        return {"subject": current_principal().subject}

    @app.get("/admin")
    @require_scopes("admin")
    def admin():
        return {"message": "welcome, admin"}

:func:`init_app` wraps ``app.wsgi_app`` in :class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware` (the same
path rules, Bearer parser, refusals and built-in ``/auth/*`` routes as the ASGI middleware) and keeps it in
``app.extensions["authhooks"]``. Flows run with the sync driver (``auth.sync``): hooks must be sync functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import Flask, Response, current_app, request

from authhooks.errors import ConfigurationError
from authhooks.integrations._wsgi import scope_names, text_headers
from authhooks.middleware.responses import Prepared
from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware
from authhooks.records import Principal

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = ["EXTENSION_KEY", "current_principal", "init_app", "require_scopes"]

EXTENSION_KEY = "authhooks"
"""The ``app.extensions`` key of the installed middleware."""

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask, auth: AuthHooks | None = None, **options: Any) -> AuthHooksWSGIMiddleware:
    """Install :class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware` around ``app.wsgi_app``.

    Args:
        app: the Flask app.
        auth: the engine (``None``: built from the ``AUTHHOOKS_*`` environment and ``options``).
        **options: the middleware's options (``protect``, ``public_paths``, ``required_scopes``…).

    Returns:
        The middleware (also ``app.extensions["authhooks"]``); call its ``close()`` to drain hooks and telemetry
        early (it also runs at interpreter exit).

    Raises:
        ConfigurationError: a bad option, an async hook on ``auth``, a second ``init_app`` on the same app.
    """
    if EXTENSION_KEY in app.extensions:
        raise ConfigurationError("authhooks is already installed on this Flask app (init_app was called twice)")
    middleware = AuthHooksWSGIMiddleware(app.wsgi_app, auth=auth, **options)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = middleware
    return middleware


def current_principal() -> Principal | None:
    """The principal of the current request: the one the middleware validated, or the one a
    :func:`require_scopes` view checked; ``None`` for an anonymous request (on a path not protected, a token is
    only read by :func:`require_scopes`)."""
    principal: Principal | None = request.environ.get(PRINCIPAL_KEY)
    return principal


def _middleware() -> AuthHooksWSGIMiddleware:
    middleware = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(middleware, AuthHooksWSGIMiddleware):
        raise ConfigurationError("require_scopes needs authhooks installed: call init_app(app, auth) first")
    return middleware


def to_response(prepared: Prepared) -> Response:
    """A Flask response with the status, headers and body of a refusal."""
    return Response(prepared.body, status=prepared.status, headers=text_headers(prepared))


def require_scopes(*scopes: str | Sequence[str]) -> Callable[[F], F]:
    """A view decorator: the request needs a valid credential (a Bearer token, or with ``sessions`` the session
    cookie on ``session_paths``: :meth:`AuthHooksWSGIMiddleware.require`) whose principal holds every one of
    ``scopes`` (checked with ``auth.sync.authorize``, so ``authorize.*`` hooks run). Otherwise the view is not
    called and the answer is the middleware's RFC 6750 refusal: 401 (no or an invalid credential) or 403
    ``insufficient_scope``.

    ``@require_scopes()`` requires only a valid token; ``@require_scopes("read", "write")`` both scopes.
    """
    required = scope_names(scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refusal = _middleware().require(request.environ, required)
            if refusal is not None:
                return to_response(refusal)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate
