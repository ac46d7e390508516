"""A Starlette app with "Sign in with <provider>" and a browser session (authorization code + PKCE, then a
``__Host-`` session cookie).

Configure the providers in a TOML file and turn sessions on::

    # providers.toml
    [provider.keycloak]
    issuer = "https://sso.example.com/realms/main"
    client_id = "shop"
    client_secret_file = "/run/secrets/keycloak"
    redirect_uri = "https://shop.example.com/auth/oauth/keycloak/callback"

    AUTHHOOKS_SESSIONS=true AUTHHOOKS_OAUTH_PROVIDERS_FILE=providers.toml uvicorn examples.oauth_app:app

``/`` links to ``/auth/oauth/<provider>/start`` for each provider; the middleware sends the browser to the
provider, takes the callback, makes the session and lands on ``/account`` (protected: the session cookie is its
credential). Unsafe methods need the CSRF token: the logout form carries it as ``csrf_token``, read from the
``__Host-authhooks_csrf`` cookie. Hooks see every step (``login.verified`` gets the provider's identity).
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.integrations.starlette import require_principal
from authhooks.middleware import AuthHooksMiddleware
from authhooks.sessions import csrf_cookie_name

logger = logging.getLogger("oauth_app")

_PAGE = "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"


def _html(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), headers={"cache-control": "no-store"})


def create_app(auth: AuthHooks | None = None) -> Starlette:
    """Build the app around ``auth`` (default: ``AuthHooks()``, configured by ``AUTHHOOKS_*`` variables)."""
    auth = auth if auth is not None else AuthHooks()
    prefix = auth.settings.routes_prefix.rstrip("/")
    csrf_cookie = csrf_cookie_name(auth.settings.session_insecure_cookie)

    @auth.hook("login.verified")
    def note_external_login(subject: str, external: Any) -> None:
        if external is not None:
            logger.info("sign-in with %s as %s", external.provider, subject)

    async def home(request: Request) -> HTMLResponse:
        links = "".join(
            f"<li><a href='{prefix}/oauth/{html.escape(name)}/start?return_to=/account'>"
            f"Sign in with {html.escape(name)}</a></li>"
            for name in sorted(auth.oauth.providers)
        )
        return _html("Welcome", f"<h1>Welcome</h1><ul>{links}</ul><p><a href='/account'>Your account</a></p>")

    async def account(request: Request) -> HTMLResponse:
        principal = require_principal(request)  # the middleware protects /account: there is always one here
        token = html.escape(request.cookies.get(csrf_cookie, ""))
        body = (
            f"<h1>Signed in</h1><p id='subject'>{html.escape(principal.subject)}</p>"
            f"<form id='logout' method='post' action='{prefix}/logout'>"
            f"<input type='hidden' name='csrf_token' value='{token}'><button type='submit'>Sign out</button></form>"
        )
        return _html("Account", body)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await auth.aclose()

    return Starlette(
        routes=[Route("/", home), Route("/account", account)],
        middleware=[Middleware(AuthHooksMiddleware, auth=auth, protect=["/account"])],
        lifespan=lifespan,
    )


app = create_app()
