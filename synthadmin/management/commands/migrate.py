"""``python manage.py migrate``: Django's, one at a time per database.

Two ``migrate`` started at once on a new database would both plan the same migrations and the
second would fail half-way (``relation already exists``). Django plans before any signal fires,
so the lock is taken here, before planning: a session-level advisory lock on the target
database, held until the command ends. The second ``migrate`` waits, then finds nothing to do.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import connections

#: Advisory lock key of synthadmin's migrations (any constant bigint; this one spells "synthmig").
MIGRATE_LOCK_KEY = 0x73796E74686D6967


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
        try:
            super().handle(*args, **options)
        finally:
            if connection.connection is not None and connection.is_usable():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
