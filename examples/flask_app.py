"""A Flask app protected by authhooks: the WSGI middleware, ``current_principal()`` and ``@require_scopes``.

Run it from the repository root (state in ``./.authhooks``; ``pip install 'authhooks[flask]' waitress``)::

    waitress-serve --listen=127.0.0.1:8000 --call examples.flask_app:create_app
    # or: flask --app examples.flask_app run --port 8000

then ``python examples/client.py http://127.0.0.1:8000``.

:func:`~authhooks.integrations.flask.init_app` wraps ``app.wsgi_app`` in the WSGI middleware: ``/me`` and
``/admin`` need a Bearer token, ``/admin`` also the ``admin`` scope (403 ``insufficient_scope`` with an RFC 6750
challenge before the view runs), and the built-in ``/auth/*`` routes (challenge, login, refresh, logout…) are
served. Hooks on this ``AuthHooks`` must be sync functions: WSGI runs the flows with the sync driver.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from authhooks import AuthHooks
from authhooks.integrations.flask import current_principal, init_app, require_scopes


def create_app(auth: AuthHooks | None = None) -> Flask:
    """Build the app around ``auth`` (default: ``AuthHooks()``, configured by ``AUTHHOOKS_*`` variables)."""
    app = Flask(__name__)
    init_app(app, auth if auth is not None else AuthHooks(), protect=["/me", "/admin"])

    @app.get("/public")
    def public() -> dict[str, Any]:
        principal = current_principal()  # None: /public is not protected
        return {"message": "anyone can read this", "user": principal.subject if principal else None}

    @app.get("/me")
    def me() -> dict[str, Any]:
        principal = current_principal()  # the middleware protects /me: there is always one here
        assert principal is not None
        return {"subject": principal.subject, "scopes": sorted(principal.scopes), "jti": principal.jti}

    @app.get("/admin")
    @require_scopes("admin")
    def admin() -> dict[str, Any]:
        return {"message": "welcome, admin"}

    return app


if __name__ == "__main__":
    from waitress import serve

    serve(create_app(), host="127.0.0.1", port=8000)
