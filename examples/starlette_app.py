"""A plain Starlette app protected by authhooks: ``request.user``, ``@requires`` and the principal.

Run it from the repository root (state in ``./.authhooks``)::

    uvicorn examples.starlette_app:app          # or: python examples/starlette_app.py

then ``python examples/client.py http://127.0.0.1:8000``.

The middleware fills Starlette's ``scope["user"]`` / ``scope["auth"]``, so ``request.user.identity`` and
``@requires("admin")`` work unchanged; :func:`~authhooks.integrations.starlette.principal_of` gives the full
principal (claims, scopes). ``/admin`` is also guarded by the middleware's ``required_scopes``, which answers
403 ``insufficient_scope`` with an RFC 6750 challenge before the app runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authhooks import AuthHooks
from authhooks.integrations.starlette import require_principal
from authhooks.middleware import AuthHooksMiddleware


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"message": "anyone can read this", "user": request.user.display_name or None})


async def me(request: Request) -> JSONResponse:
    principal = require_principal(request)  # the middleware protects /me: there is always one here
    return JSONResponse({"subject": request.user.identity, "scopes": sorted(principal.scopes), "jti": principal.jti})


@requires("admin")
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"message": "welcome, admin"})


def create_app(auth: AuthHooks | None = None) -> Starlette:
    """Build the app around ``auth`` (default: ``AuthHooks()``, configured by ``AUTHHOOKS_*`` variables)."""
    auth = auth if auth is not None else AuthHooks()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await auth.aclose()

    return Starlette(
        routes=[Route("/public", public), Route("/me", me), Route("/admin", admin)],
        middleware=[
            Middleware(
                AuthHooksMiddleware,
                auth=auth,
                protect=["/me", "/admin"],
                required_scopes={"/admin": ["admin"]},
            )
        ],
        lifespan=lifespan,
    )


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
