"""The demo application: a small FastAPI app behind :class:`~authhooks.middleware.AuthHooksMiddleware`.

Routes:

- ``GET /`` and ``GET /public``: open to anyone.
- ``GET /me``: needs a valid Bearer token; answers with the subject, scopes and the claims a hook and a handler
  added.
- ``GET /admin``: needs the ``admin`` scope (which demo logins never get, so it shows a 403).
- the middleware's built-in routes under ``/auth`` (challenge, login, refresh, logout, revoke, introspect, JWKS).

Everything uses the embedded defaults: an Ed25519 signing key generated in the state directory
(``AUTHHOOKS_STATE_DIR``, default ``./.authhooks``), the SQLite store there, and, when serving, the compact
console telemetry (one line per flow with its hook decisions) unless ``OTEL_TRACES_EXPORTER`` names exporters
(then the standard ``OTEL_*`` variables configure it).

The hooks show the four things a hook can do:

- :func:`limit_challenges` (``challenge.pre``): deny with **429** and ``Retry-After`` after
  ``challenge_limit`` challenges per subject per minute, counted in the store (``store.incr``);
- :func:`add_demo_claims` (``login.verified``): add claims to the tokens about to be issued;
- :func:`log_failed_login` (``login.failed``) and :func:`log_refused_token` (``validate_token.failed``):
  observe failures (logged without any credential).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from authhooks._auth import AuthHooks
from authhooks.errors import Deny
from authhooks.integrations.fastapi import CurrentPrincipal, require_scopes

__all__ = [
    "CHALLENGE_LIMIT",
    "CHALLENGE_WINDOW_SECONDS",
    "add_demo_claims",
    "create_app",
    "create_auth",
    "install_hooks",
    "limit_challenges",
    "log_failed_login",
    "log_refused_token",
]

logger = logging.getLogger("authhooks.demo")

CHALLENGE_LIMIT = 5
"""Challenges one subject may ask for per window before the demo's rate limit answers 429."""

CHALLENGE_WINDOW_SECONDS = 60.0
"""The fixed window of the challenge rate limit."""


def _short(subject: str | None) -> str:
    """The first 8 characters of a subject (a public key: not secret, but long)."""
    if not subject:
        return "-"
    return subject if len(subject) <= 8 else subject[:8] + "…"


def limit_challenges(limit: int = CHALLENGE_LIMIT, window: float = CHALLENGE_WINDOW_SECONDS) -> Any:
    """Build the ``challenge.pre`` hook that denies with 429 after ``limit`` challenges per subject per window.

    The counter lives in the store (``store.incr`` with a fixed window), so it holds across processes that
    share the store. The denial carries ``Retry-After`` (RFC 9110 §10.2.3) with the seconds left in the window.
    """

    async def rate_limit_challenges(subject: str, store: Any) -> Deny | None:
        key = f"demo:challenges:{subject}"
        count = await store.incr(key, window)
        if count <= limit:
            return None
        left = await store.ttl(key)
        retry_after = max(1, round(left)) if left is not None else round(window)
        return Deny(
            status=429,
            reason="rate_limited",
            headers={"Retry-After": str(retry_after)},
            description="Too many challenges for this subject; try again later.",
        )

    return rate_limit_challenges


def add_demo_claims(claims: Mapping[str, Any] | None) -> dict[str, Any]:
    """``login.verified``: add ``demo: true`` and ``plan: "free"`` to the claims of the tokens being issued."""
    return {"claims": {**(claims or {}), "demo": True, "plan": "free"}}


def log_failed_login(subject: str | None, reason: str | None) -> None:
    """``login.failed``: log why a login failed (the reason is low-cardinality; no credential is logged)."""
    logger.warning("login failed: reason=%s subject=%s", reason, _short(subject))


def log_refused_token(reason: str | None) -> None:
    """``validate_token.failed``: log why a token was refused."""
    logger.warning("refused a token: reason=%s", reason)


def install_hooks(auth: AuthHooks, *, challenge_limit: int = CHALLENGE_LIMIT) -> AuthHooks:
    """Register the demo hooks on ``auth`` and return it."""
    auth.add_hook("challenge.pre", limit_challenges(challenge_limit), name="demo_rate_limit")
    auth.add_hook("login.verified", add_demo_claims, name="demo_add_claims")
    auth.add_hook("login.failed", log_failed_login, name="demo_log_failed_login")
    auth.add_hook("validate_token.failed", log_refused_token, name="demo_log_refused_token")
    return auth


def create_auth(*, challenge_limit: int = CHALLENGE_LIMIT, **overrides: Any) -> AuthHooks:
    """An :class:`~authhooks.AuthHooks` with the embedded defaults (``AUTHHOOKS_*`` still apply; ``overrides``
    win) and the demo hooks installed."""
    overrides.setdefault("service_name", "authhooks-demo")
    return install_hooks(AuthHooks(**overrides), challenge_limit=challenge_limit)


def create_app(
    auth: AuthHooks | None = None,
    *,
    challenge_limit: int = CHALLENGE_LIMIT,
    telemetry: bool = False,
) -> FastAPI:
    """Build the demo app.

    Args:
        auth: the instance to use (its hooks are left as they are); by default :func:`create_auth`.
        challenge_limit: the rate limit of the default instance's ``challenge.pre`` hook.
        telemetry: set up telemetry when the app starts, and flush it when it stops: what ``OTEL_*`` asks for
            when ``OTEL_TRACES_EXPORTER`` is set, else the compact console lines (:func:`demo_exporter`).

    Returns:
        the FastAPI app, wrapped in the middleware; ``app.state.auth`` is the :class:`~authhooks.AuthHooks`.
        The app's lifespan closes ``auth`` (drains background hooks, closes the store) when it stops.
    """
    from authhooks.middleware import AuthHooksMiddleware

    if auth is None:
        auth = create_auth(challenge_limit=challenge_limit)
    demo_auth = auth

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handle = _setup_telemetry(demo_auth) if telemetry else None
        try:
            yield
        finally:
            await demo_auth.aclose()
            if handle is not None:
                handle.shutdown()

    app = FastAPI(
        title="authhooks demo",
        summary="Challenge-response login with an Ed25519 key, Bearer tokens, and hooks around every step.",
        lifespan=lifespan,
    )
    app.state.auth = auth

    @app.get("/")
    async def index() -> dict[str, Any]:
        """What this demo offers."""
        return {
            "service": "authhooks demo",
            "public": ["/", "/public", "/docs"],
            "protected": {"/me": "any valid token", "/admin": "scope admin"},
            "auth": ["/auth/challenge", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/jwks.json"],
        }

    @app.get("/public")
    async def public() -> dict[str, str]:
        """Open to anyone."""
        return {"message": "anyone can read this"}

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        """Who the token says you are, the claims the ``login.verified`` hook added, and ``tenant``, which the
        ``add_claims`` handler of ``examples/handlers.toml`` adds when the demo loads it."""
        return {
            "subject": principal.subject,
            "scopes": sorted(principal.scopes),
            "plan": principal.claims.get("plan"),
            "demo": principal.claims.get("demo"),
            "tenant": principal.claims.get("tenant"),
        }

    @app.get("/admin", dependencies=[require_scopes("admin")])
    async def admin() -> dict[str, str]:
        """Needs the ``admin`` scope (demo logins do not get it: 403 ``insufficient_scope``)."""
        return {"message": "welcome, admin"}

    app.add_middleware(AuthHooksMiddleware, auth=auth, protect=["/me", "/admin"])
    return app


def demo_exporter(environ: Mapping[str, str] | None = None) -> str | None:
    """The span exporter the demo asks for: ``"compact"`` when ``OTEL_TRACES_EXPORTER`` is unset or empty, else
    ``None`` so that the ``OTEL_*`` variables decide (``otlp``, ``zipkin``, ``console``, ``none``…)."""
    env = os.environ if environ is None else environ
    return None if env.get("OTEL_TRACES_EXPORTER", "").strip() else "compact"


def _setup_telemetry(auth: AuthHooks) -> Any:
    """Set up the telemetry the environment asks for, compact console lines by default (:func:`demo_exporter`);
    the handle is kept on ``auth.telemetry_handle`` and flushed at shutdown."""
    handle = auth.setup_telemetry(exporter=demo_exporter())
    if not handle.installed:
        print("authhooks demo: a tracer provider is already installed; telemetry goes there")
    return handle
