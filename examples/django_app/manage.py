#!/usr/bin/env python
"""The Django example's command line: ``python examples/django_app/manage.py runserver 127.0.0.1:8000``.

``runserver`` first brings the example's SQLite database (under ``AUTHHOOKS_STATE_DIR``, default ``./.authhooks``)
up to date, so that ``RemoteUserBackend`` can create the users it meets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    if len(sys.argv) > 1 and sys.argv[1] == "runserver":
        from example_project.migrate import migrate

        migrate()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
