"""Settings of the Django example: authhooks' middleware after Django's own, ``RemoteUserBackend`` for
``request.user``, and ``AUTHHOOKS`` for the middleware's options (every other setting comes from the
``AUTHHOOKS_*`` environment variables: the state directory, the store, the keys)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

STATE_DIR = Path(os.environ.get("AUTHHOOKS_STATE_DIR", ".authhooks"))
STATE_DIR.mkdir(parents=True, exist_ok=True)

# Sessions and signed cookies are not used by this API; set DJANGO_SECRET_KEY when they are.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "authhooks.integrations.django.AuthHooksMiddleware",
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": STATE_DIR / "django.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

AUTHHOOKS = {
    "protect": ["/me", "/admin"],
    "required_scopes": {"/admin": ["admin"]},
}
