"""The WSGI application, for a production server::

    gunicorn --chdir examples/django_app example_project.wsgi     # or waitress-serve --call …

The database is brought up to date first (see ``migrate.py``)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

from example_project.migrate import migrate

migrate()
application = get_wsgi_application()
