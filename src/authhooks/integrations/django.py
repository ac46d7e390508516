"""Django integration: a middleware configured from ``settings.AUTHHOOKS``, ``request.principal``, ``request.user``
through ``RemoteUserBackend``, and a ``require_scopes`` view decorator.

``settings.py``::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "authhooks.integrations.django.AuthHooksMiddleware",     # after AuthenticationMiddleware
    ]
    AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]   # for request.user
    AUTHHOOKS = {
        "protect": ["/me", "/admin"],
        "required_scopes": {"/admin": ["admin"]},
        # any AUTHHOOKS_* setting in lower case ("store_url": "redis://…"), or "auth": an AuthHooks instance
        # or the dotted path of one ("myproject.auth.auth")
    }

Without ``settings.AUTHHOOKS`` everything comes from the ``AUTHHOOKS_*`` environment variables.

The middleware runs :class:`~authhooks.middleware.wsgi.AuthHooksWSGIMiddleware`'s judgement on
``request.environ`` (the same path rules, Bearer parser, refusals and built-in ``/auth/*`` routes): a refusal or a
built-in route is answered before any view runs. A request that passes gets ``request.principal`` (the
:class:`~authhooks.records.Principal`, ``None`` when anonymous) and, when authenticated, ``REMOTE_USER`` in
``request.META``; when an authentication backend that takes ``remote_user`` is configured (``RemoteUserBackend``,
which creates the user on first sight unless ``create_unknown_user`` is off), ``request.user`` is that user
for this request, without a session. Observe mode is not offered here: wrap the WSGI application with
``AuthHooksWSGIMiddleware(get_wsgi_application(), observe=[…])`` for it. Hooks must be sync functions.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from authhooks.errors import ConfigurationError
from authhooks.integrations._wsgi import scope_names, text_headers
from authhooks.middleware.gate import SETTING_OPTIONS
from authhooks.middleware.wsgi import PRINCIPAL_KEY, AuthHooksWSGIMiddleware

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from authhooks._auth import AuthHooks

__all__ = ["AuthHooksMiddleware", "require_scopes"]

F = TypeVar("F", bound=Callable[..., Any])

_MIDDLEWARE_OPTIONS = frozenset(
    {*SETTING_OPTIONS, "instrument_wsgi", "required_scopes", "introspect_scope", "strict_startup"}
)
_PASSED: list[bytes] = []
"""What the judged-only app returns: the request passed the middleware."""
_engine: AuthHooksWSGIMiddleware | None = None


def _passed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return _PASSED


def _auth_from(value: Any) -> AuthHooks:
    from authhooks._auth import AuthHooks

    if isinstance(value, str):
        module, _, name = value.rpartition(".")
        try:
            value = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigurationError(f"settings.AUTHHOOKS['auth']: cannot import {value!r} ({exc})") from None
    if not isinstance(value, AuthHooks):
        raise ConfigurationError("settings.AUTHHOOKS['auth'] must be an AuthHooks instance or its dotted path")
    return value


def build_engine(config: Mapping[str, Any]) -> AuthHooksWSGIMiddleware:
    """The judging middleware from a ``settings.AUTHHOOKS`` mapping (see the module docstring).

    Raises:
        ConfigurationError: ``observe`` (not offered here), a bad ``auth``, an unknown setting (named).
    """
    if "observe" in config:
        raise ConfigurationError(
            "settings.AUTHHOOKS['observe'] is not offered by the Django middleware: wrap the WSGI application with "
            "AuthHooksWSGIMiddleware(get_wsgi_application(), observe=[...]) instead"
        )
    options = {k: v for k, v in config.items() if k in _MIDDLEWARE_OPTIONS}
    rest = {k: v for k, v in config.items() if k not in _MIDDLEWARE_OPTIONS and k != "auth"}
    if "auth" in config:
        if rest:
            raise ConfigurationError(
                f"settings.AUTHHOOKS: {sorted(rest)} cannot be combined with 'auth' (configure that AuthHooks instead)"
            )
        auth = _auth_from(config["auth"])
    else:
        from authhooks._auth import AuthHooks

        auth = AuthHooks(**rest)  # unknown keys are refused by Settings, naming them
    return AuthHooksWSGIMiddleware(_passed, auth=auth, **options)


class AuthHooksMiddleware:
    """The Django middleware (see the module docstring); configured once, from ``settings.AUTHHOOKS``.

    Raises:
        ConfigurationError: a bad ``settings.AUTHHOOKS`` (at the first request Django builds middleware for).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        global _engine
        from django.conf import settings

        self.get_response = get_response
        config = getattr(settings, "AUTHHOOKS", None) or {}
        if not isinstance(config, Mapping):
            raise ConfigurationError("settings.AUTHHOOKS must be a dict")
        self.engine = build_engine(config)
        _engine = self.engine

    def __call__(self, request: HttpRequest) -> HttpResponse:
        environ: dict[str, Any] = request.environ  # type: ignore[attr-defined]  # WSGIRequest: META is environ
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started.append((status, headers))

        body = self.engine(environ, start_response)
        if body is not _PASSED:  # a refusal or a built-in route: the middleware's own answer
            status, headers = started[0]
            return _response(int(status.split(" ", 1)[0]), headers, b"".join(body))
        request.principal = environ.get(PRINCIPAL_KEY)  # type: ignore[attr-defined]
        _set_user(request)
        return self.get_response(request)


def _response(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> HttpResponse:
    from django.http import HttpResponse

    response = HttpResponse(body, status=status)
    del response["Content-Type"]  # the middleware's own headers only (a bare challenge has no body, no type)
    for name, value in headers:
        if name.lower() != "content-length":
            response[name] = value
    return response


def _set_user(request: HttpRequest) -> None:
    """``request.user``: for an authenticated request, the user a ``remote_user`` backend (``RemoteUserBackend``)
    answers for the subject (no session is created); for an anonymous one without ``AuthenticationMiddleware``,
    ``AnonymousUser``."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.auth"):
        return
    principal = getattr(request, "principal", None)
    if principal is None:
        if not hasattr(request, "user"):  # no AuthenticationMiddleware: anonymous, as Django would say
            from django.contrib.auth.models import AnonymousUser

            request.user = AnonymousUser()
        return
    from django.contrib.auth import authenticate

    user = authenticate(request, remote_user=principal.subject)
    if user is not None:
        request.user = user


def require_scopes(*scopes: str | Sequence[str]) -> Callable[[F], F]:
    """A view decorator: a valid credential (a Bearer token, or with ``sessions`` the session cookie on
    ``session_paths``, as :meth:`AuthHooksWSGIMiddleware.require` judges it) whose principal holds every one of
    ``scopes`` (checked with ``auth.sync.authorize``), else the RFC 6750 refusal (401, or 403
    ``insufficient_scope``) and the view is not called. Needs :class:`AuthHooksMiddleware` in ``MIDDLEWARE``.
    """
    required = scope_names(scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if _engine is None:
                raise ConfigurationError("require_scopes needs authhooks.integrations.django.AuthHooksMiddleware")
            environ: dict[str, Any] = request.environ  # type: ignore[attr-defined]
            refusal = _engine.require(environ, required)
            if refusal is not None:
                return _response(refusal.status, text_headers(refusal), refusal.body)
            request.principal = environ.get(PRINCIPAL_KEY)  # type: ignore[attr-defined]
            _set_user(request)
            return view(request, *args, **kwargs)

        return cast(F, guarded)

    return decorate
