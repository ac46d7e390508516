"""Starlette helpers: read what :class:`~authhooks.middleware.AuthHooksMiddleware` put in the request scope, and
describe a rejection with the middleware's own RFC 6750 challenge headers.

The middleware fills the Starlette keys (``scope["user"]``, ``scope["auth"]``, so ``request.user``,
``request.auth`` and ``@requires`` work) and keeps its :class:`~authhooks.middleware.scope.AuthState` under
``scope["authhooks"]`` (the principal, the :class:`~authhooks.AuthHooks` instance, the request info)::

    from authhooks.integrations.starlette import principal_of

    async def me(request: Request) -> JSONResponse:
        principal = principal_of(request)  # None for an anonymous request on an open route
        ...

Nothing here imports FastAPI; :mod:`authhooks.integrations.fastapi` builds on these helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from authhooks.errors import AuthError, MissingCredentials
from authhooks.records import Principal, RequestInfo

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks

__all__ = ["SCOPE_KEY", "auth_of", "challenge_headers", "principal_of", "request_info_of", "require_principal"]

SCOPE_KEY = "authhooks"
"""The ASGI scope key of the middleware's state (``authhooks.middleware.scope.SCOPE_KEY``)."""


def _state(conn: HTTPConnection | Mapping[str, Any]) -> Mapping[str, Any] | None:
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    state = scope.get(SCOPE_KEY)
    return state if isinstance(state, Mapping) else None


def principal_of(conn: HTTPConnection | Mapping[str, Any]) -> Principal | None:
    """The principal the middleware validated for this request or WebSocket, or ``None`` (anonymous, or the
    middleware did not see the request).

    Args:
        conn: a Starlette ``Request``/``WebSocket`` (any ``HTTPConnection``) or a raw ASGI scope.
    """
    state = _state(conn)
    principal = state.get("principal") if state is not None else None
    return principal if isinstance(principal, Principal) else None


def require_principal(conn: HTTPConnection | Mapping[str, Any]) -> Principal:
    """Like :func:`principal_of`, but raise :class:`~authhooks.errors.MissingCredentials` for an anonymous
    request (answer it with :func:`challenge_headers`: a 401 with a bare Bearer challenge)."""
    principal = principal_of(conn)
    if principal is None:
        raise MissingCredentials()
    return principal


def auth_of(conn: HTTPConnection | Mapping[str, Any]) -> AuthHooks | None:
    """The :class:`~authhooks.AuthHooks` instance of the middleware that handled this request, or ``None``."""
    state = _state(conn)
    return state.get("auth") if state is not None else None


def request_info_of(conn: HTTPConnection | Mapping[str, Any]) -> RequestInfo | None:
    """The :class:`~authhooks.records.RequestInfo` the middleware's hooks saw for this request, or ``None``."""
    state = _state(conn)
    info = state.get("request") if state is not None else None
    return info if isinstance(info, RequestInfo) else None


def challenge_headers(error: AuthError, realm: str = "authhooks", *, error_format: str = "bearer") -> dict[str, str]:
    """The headers the middleware would send with ``error`` on a protected resource (RFC 6750 §3).

    - no credentials (:class:`~authhooks.errors.MissingCredentials`): a bare ``Bearer realm="…"`` challenge;
    - ``invalid_token`` / ``insufficient_scope``…: the challenge with ``error``, ``error_description`` and, for
      insufficient scope, ``scope``;
    - a hook's :class:`~authhooks.errors.Deny`: the headers the hook set (``Retry-After``…), and the bare
      challenge on a 401 (RFC 9110 §15.5.2).

    ``Cache-Control: no-store`` is included; body headers (``content-type``, ``content-length``) are not.
    """
    from authhooks.middleware.responses import Responses

    prepared = Responses(realm, error_format).error(error)
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in prepared.headers
        if name not in (b"content-length", b"content-type")
    }
