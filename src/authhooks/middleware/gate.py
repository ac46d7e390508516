"""What the ASGI and WSGI drivers decide the same way: options, path rules, the built-in routes, refusals.

:func:`resolve` turns the middleware's keyword options into the effective :class:`~authhooks.config.Settings`
(a keyword wins over the matching ``AUTHHOOKS_*`` setting and is validated like one). :class:`Gate` holds what a
request is judged by: the protected and public patterns, the per-route scopes, ``optional_auth``, the response
builder and the :class:`~authhooks.middleware.routes.AuthRoutes`; :meth:`Gate.refusal` decides what an exception
raised while judging a protected request means (a response, or anonymous access under ``optional_auth``). The
drivers only read the request, call the flows (awaited or blocking) and write the response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from authhooks.errors import AuthError, ConfigurationError, InvalidRequest, MissingCredentials
from authhooks.metadata import IssuerMetadata
from authhooks.middleware.paths import PathRules, ScopeRules, path_forms, path_is_safe
from authhooks.middleware.responses import Prepared, Responses
from authhooks.middleware.routes import AuthRoutes, LoginAPI
from authhooks.middleware.sessions import SessionWeb

if TYPE_CHECKING:
    from authhooks._auth import AuthHooks
    from authhooks.config import Settings

__all__ = ["SETTING_OPTIONS", "UNSAFE", "Gate", "Plan", "log_startup_problems", "normalise_prefix", "resolve"]

logger = logging.getLogger("authhooks.middleware")

Plan = tuple[tuple[str, ...], bool, bool]
"""What the path rules say about one path: its forms (:func:`path_forms`), protected, takes a Bearer token."""
UNSAFE: Plan = ((), False, False)
"""The plan of a path :func:`path_is_safe` refuses."""
_PLANS_LIMIT = 4096
_PLAN_PATH_MAX = 512

SETTING_OPTIONS = (
    "protect",
    "public_paths",
    "optional_auth",
    "routes",
    "routes_prefix",
    "error_format",
    "max_body_bytes",
    "realm",
)
"""The keyword options of both drivers that are :class:`~authhooks.config.Settings` fields (:func:`resolve`); each
driver adds its ``instrument_asgi`` / ``instrument_wsgi``."""


def normalise_prefix(value: str) -> str:
    """The routes prefix without a trailing ``/`` (``""`` for the root).

    Raises:
        ConfigurationError: not a path like ``/auth`` (no ``*``, no ``//``).
    """
    prefix = value.rstrip("/")
    if prefix and (not prefix.startswith("/") or "*" in prefix or "//" in prefix):
        raise ConfigurationError(f"routes_prefix must be a path like '/auth', got {value!r}")
    return prefix


def log_startup_problems(problems: Sequence[str], strict: bool) -> None:
    """Log one line per failed start-up check (each already free of secrets), saying what follows: an error when
    ``strict`` (``strict_startup``: the driver refuses to start), else a warning (it serves anyway)."""
    level = logging.ERROR if strict else logging.WARNING
    outcome = "start-up refused (strict_startup)" if strict else "serving anyway; requests may fail"
    for problem in problems:
        logger.log(level, "authhooks: start-up check failed: %s; %s", problem, outcome)


def resolve(auth: AuthHooks | None, options: Mapping[str, Any]) -> tuple[AuthHooks, Settings]:
    """The engine and the effective settings: ``options`` that are not ``None`` override ``auth.settings``
    (an ``auth`` of ``None`` is built from the environment and these options).

    Raises:
        ConfigurationError: an option that is not a valid setting value.
    """
    overrides = {name: value for name, value in options.items() if value is not None}
    if auth is None:
        from authhooks._auth import AuthHooks

        auth = AuthHooks(**overrides)
    settings = auth.settings.replace(**overrides) if overrides else auth.settings
    return auth, settings


class Gate:
    """The driver-neutral judgement of requests (see the module docstring).

    Args:
        auth: the engine (its general ``login`` decides whether the password grant is served).
        settings: the effective settings (:func:`resolve`).
        required_scopes: per-route scopes, ``{"/admin/**": ["admin"]}``.
        introspect_scope: the scope a caller needs at ``{prefix}/introspect`` (``""`` for any valid token).

    Attributes:
        paths, scopes, optional, responses: the rules and the response builder.
        routes: the built-in routes (``None`` when ``settings.routes`` is off); ``route_paths`` their paths.
        bad_path_error, bad_path: the refusal of a path :func:`~authhooks.middleware.paths.path_is_safe` rejects.
    """

    def __init__(
        self,
        auth: Any,
        settings: Settings,
        *,
        required_scopes: Mapping[str, Sequence[str] | str] | None,
        introspect_scope: str,
    ) -> None:
        self.paths = PathRules(settings.protect, settings.public_paths)
        self.scopes = ScopeRules(required_scopes or {})
        self.optional = settings.optional_auth
        self.responses = Responses(settings.effective_realm, settings.error_format)
        self.bad_path_error = InvalidRequest("The request path is not acceptable.", reason="malformed_path")
        self.bad_path = self.responses.error(self.bad_path_error, challenge=False)
        self.plans: dict[str, Plan] = {}
        """The plans :meth:`plan` remembered, by path (a driver looks a path up here before calling it)."""
        self.routes: AuthRoutes | None = None
        self.route_paths: frozenset[str] = frozenset()
        oauth = getattr(auth, "oauth", None)
        providers = sorted(oauth.providers) if oauth is not None and settings.routes else []
        self.sessions = SessionWeb(
            settings, normalise_prefix(settings.routes_prefix), providers, self.responses, settings.max_body_bytes
        )
        """Which credential a path takes, session cookies, the OpenID provider routes."""
        if settings.routes:
            prefix = normalise_prefix(settings.routes_prefix)
            self.routes = AuthRoutes(
                prefix=prefix,
                responses=self.responses,
                max_body_bytes=settings.max_body_bytes,
                max_token_bytes=settings.max_token_bytes,
                introspect_scope=introspect_scope,
                password_grant=isinstance(auth, LoginAPI),
                metadata=IssuerMetadata.from_settings(settings, prefix),
                sessions=self.sessions,
            )
            self.route_paths = frozenset(self.routes.table)

    def plan(self, path: str) -> Plan:
        """What the path rules (fixed at construction) say about ``path``, remembered in :attr:`plans` for paths up
        to ``_PLAN_PATH_MAX`` characters (at most ``_PLANS_LIMIT`` of them; cleared when full): a path is judged as
        given (as Starlette routes it) and with runs of "/" collapsed (as some servers do), and is protected, or
        takes a Bearer token, when any of its forms does (fail closed). :data:`UNSAFE` for a path
        :func:`path_is_safe` refuses."""
        if path_is_safe(path):
            forms = path_forms(path)
            plan = (forms, self.paths.is_protected(*forms), self.sessions.bearer(*forms))
        else:
            plan = UNSAFE
        if len(path) <= _PLAN_PATH_MAX:
            if len(self.plans) >= _PLANS_LIMIT:
                self.plans.clear()
            self.plans[path] = plan
        return plan

    def refusal(self, exc: Exception, judged: bool, forms: tuple[str, ...]) -> tuple[Prepared | None, AuthError | None]:
        """What ``exc``, raised while judging a protected request, means.

        Args:
            exc: the exception (a missing credential, a rejected token, a fault).
            judged: whether a flow saw the request (``validate_token`` ran).
            forms: the path forms judged (:func:`~authhooks.middleware.paths.path_forms`).

        Returns:
            ``(response, unjudged)``: the refusal to send (``None``: under ``optional_auth``, a request without a
            Bearer credential and without required scopes passes as anonymous), and the error to report to the
            observers as a refused request when no flow judged it (else ``None``).
        """
        if isinstance(exc, MissingCredentials):
            # Optional auth: no credential, or one of another scheme, is anonymous (unless scopes are required).
            if self.optional and exc.reason == "unsupported_scheme" and not self.scopes.required(*forms):
                return None, None
            return self.responses.for_exception(exc), None if judged else exc
        unjudged = exc if not judged and isinstance(exc, AuthError) else None
        return self.responses.for_exception(exc), unjudged
