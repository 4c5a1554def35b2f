"""Signal receivers that keep Django's own tables out of Supabase's ``public`` schema."""

from __future__ import annotations

from typing import Any

from django.db import connections

from synthadmin.db.session import DJANGO_SCHEMA


def create_django_schema(*, using: str = "default", **kwargs: Any) -> None:
    """Create the ``synthadmin`` schema before ``migrate`` creates any Django table.

    ``pre_migrate`` fires before the migration recorder creates ``django_migrations``; without
    the schema, PostgreSQL would skip it in ``search_path`` and put the table in ``public``.
    Two ``migrate`` at once are serialised by the command (an advisory lock); IF NOT EXISTS
    keeps this idempotent for anything else.
    """
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [DJANGO_SCHEMA])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {DJANGO_SCHEMA}")
