"""The middleware: Bearer-protected routes, the built-in auth routes and observed routes, for ASGI and WSGI.

Two drivers over one core: :mod:`~authhooks.middleware.asgi` (:class:`AuthHooksMiddleware`, the async flows) and
:mod:`~authhooks.middleware.wsgi` (:class:`AuthHooksWSGIMiddleware`, the same flows under the sync driver). The
HTTP-agnostic parts are shared, never copied: the judgement of a request (:mod:`~authhooks.middleware.gate`), the
path rules (:mod:`~authhooks.middleware.paths`), the Bearer parser (:mod:`~authhooks.middleware.bearer`), the
responses (:mod:`~authhooks.middleware.responses`), the body limits and parser (:mod:`~authhooks.middleware.bodies`),
the built-in routes (:mod:`~authhooks.middleware.routes`, generators run through :mod:`~authhooks.middleware.seam`)
and observe mode's points (:mod:`~authhooks.middleware.observe`).
"""

from __future__ import annotations

from authhooks.middleware.asgi import AuthHooksMiddleware
from authhooks.middleware.observe import ObservedRoute
from authhooks.middleware.scope import SCOPE_KEY, AuthState, AuthUser
from authhooks.middleware.wsgi import AuthHooksWSGIMiddleware

__all__ = ["SCOPE_KEY", "AuthHooksMiddleware", "AuthHooksWSGIMiddleware", "AuthState", "AuthUser", "ObservedRoute"]
