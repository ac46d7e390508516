"""The Django integration: the middleware configured from ``settings.AUTHHOOKS``, ``request.principal``,
``request.user`` through ``RemoteUserBackend``, ``require_scopes`` and the built-in routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="django-tests-only-0123456789abcdefghijklmnopqrstuvwxyz",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        MIDDLEWARE=["authhooks.integrations.django.AuthHooksMiddleware"],
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.RemoteUserBackend"],
        ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()

from django.core.management import call_command
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path

from authhooks import AuthHooks, ConfigurationError, Secret
from authhooks.integrations.django import build_engine, require_scopes


def me(request: HttpRequest) -> JsonResponse:
    principal = request.principal  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "subject": principal.subject if principal else None,
            "user": request.user.get_username(),
            "authenticated": request.user.is_authenticated,
            "remote_user": request.META.get("REMOTE_USER"),
        }
    )


@require_scopes("admin")
def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": request.principal.subject})  # type: ignore[attr-defined]


urlpatterns = [path("api/me", me), path("open", me), path("api/admin", admin)]


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[AuthHooks]:
    call_command("migrate", verbosity=0, interactive=False)
    engine = AuthHooks(
        secret=Secret(b"django-test-secret-0123456789abcdef0"), store_url="memory://", state_dir=tmp_path
    )
    with override_settings(AUTHHOOKS={"auth": engine, "protect": ["/api/**"]}):
        yield engine
    engine.close()


def bearer(auth: AuthHooks, subject: str, scope: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {auth.sync.issue_token(subject, {'scope': scope}).token}"}


def test_protected_paths_principal_and_remote_user(auth: AuthHooks) -> None:
    c = Client()
    r = c.get("/api/me")
    assert r.status_code == 401 and r["WWW-Authenticate"] == 'Bearer realm="authhooks"'
    assert "Content-Type" not in r and r.content == b""
    r = c.get("/api/me", **bearer(auth, "alice", "read"))
    assert r.status_code == 200
    assert r.json() == {"subject": "alice", "user": "alice", "authenticated": True, "remote_user": "alice"}
    r = c.get("/open")
    assert r.json() == {"subject": None, "user": "", "authenticated": False, "remote_user": None}


def test_require_scopes(auth: AuthHooks) -> None:
    c = Client()
    r = c.get("/api/admin", **bearer(auth, "bob", "read"))
    assert r.status_code == 403 and 'error="insufficient_scope"' in r["WWW-Authenticate"]
    assert r.json()["error"] == "insufficient_scope"
    r = c.get("/api/admin", **bearer(auth, "root", "admin"))
    assert r.status_code == 200 and r.json() == {"admin": "root"}


def test_built_in_routes_are_served(auth: AuthHooks) -> None:
    c = Client()
    assert c.get("/auth/jwks.json").status_code == 200
    token = auth.sync.issue_token("dave", {"scope": "read"}).token
    r = c.post("/auth/revoke", f"token={token}", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    r = c.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"observe": []}, "observe"),
        ({"auth": "no.such.module.auth"}, "cannot import"),
        ({"auth": 42}, "AuthHooks instance"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_settings_are_configuration_errors(config: dict[str, Any], match: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build_engine({"state_dir": tmp_path, **config} if "auth" not in config else config)
