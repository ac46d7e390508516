"""Bring the example's SQLite database up to date (the tables of ``django.contrib.auth``)."""

from __future__ import annotations


def migrate() -> None:
    """Run ``migrate`` quietly (Django set up first)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
