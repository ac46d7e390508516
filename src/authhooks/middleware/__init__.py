"""ASGI middleware: Bearer-protected routes, the built-in auth routes and observed routes.

The HTTP-agnostic parts (:mod:`~authhooks.middleware.paths`, :mod:`~authhooks.middleware.bearer`,
:mod:`~authhooks.middleware.responses`, :func:`~authhooks.middleware.bodies.parse_fields`) are shared with a
future WSGI driver; :mod:`~authhooks.middleware.asgi` is the ASGI driver.
"""

from __future__ import annotations

from authhooks.middleware.asgi import AuthHooksMiddleware
from authhooks.middleware.observe import ObservedRoute
from authhooks.middleware.scope import SCOPE_KEY, AuthState, AuthUser

__all__ = ["SCOPE_KEY", "AuthHooksMiddleware", "AuthState", "AuthUser", "ObservedRoute"]
