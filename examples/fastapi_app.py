"""A FastAPI app protected by authhooks: Bearer tokens, the built-in login routes, and two hooks.

Run it from the repository root (state in ``./.authhooks``: a generated Ed25519 signing key and a SQLite store)::

    uvicorn examples.fastapi_app:app            # or: python examples/fastapi_app.py

then, in another terminal, log in with an Ed25519 key and call the routes::

    python examples/client.py http://127.0.0.1:8000

Routes: ``/public`` (open), ``/me`` (any valid token), ``/admin`` (scope ``admin``), and the middleware's
``/auth/challenge``, ``/auth/login``, ``/auth/refresh``, ``/auth/logout``, ``/auth/jwks.json``.
``install(app, auth, ...)`` adds the middleware and documents all of it: the OpenAPI docs at ``/docs`` (public)
list the ``/auth/*`` routes, the 401/403 answers of ``/me`` and ``/admin``, and an OAuth2 password scheme whose
"Authorize" button posts to ``/auth/login`` (add a password ``login.provide`` hook, as in the README, for it to
log anyone in). ``authhooks demo`` serves a fuller version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from authhooks import AuthHooks, Deny
from authhooks.integrations.fastapi import CurrentPrincipal, install, require_scopes


def create_app(auth: AuthHooks | None = None) -> FastAPI:
    """Build the app around ``auth`` (default: ``AuthHooks()``, configured by ``AUTHHOOKS_*`` variables)."""
    auth = auth if auth is not None else AuthHooks()

    @auth.hook("challenge.pre", name="rate_limit")
    async def rate_limit(subject: str, store: Any) -> Deny | None:
        """At most 10 challenges per subject per minute."""
        if await store.incr(f"example:challenges:{subject}", 60.0) > 10:
            return Deny(status=429, reason="rate_limited", headers={"Retry-After": "60"})
        return None

    @auth.hook("login.verified", name="add_plan")
    def add_plan(claims: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every token issued at login carries a ``plan`` claim."""
        return {"claims": {**(claims or {}), "plan": "free"}}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await auth.aclose()  # drain background hooks, close the store

    app = FastAPI(title="authhooks FastAPI example", lifespan=lifespan)

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"message": "anyone can read this"}

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"subject": principal.subject, "plan": principal.claims.get("plan"), "scopes": sorted(principal.scopes)}

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, str]:
        return {"message": "welcome, admin"}

    install(app, auth, protect=["/me", "/admin"])  # the middleware, plus the auth routes in the OpenAPI docs
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
