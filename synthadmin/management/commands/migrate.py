"""``python manage.py migrate``: Django's, one at a time per database, without the target checks.

* Two ``migrate`` started at once on a new database would both plan the same migrations and the
  second would fail half-way (``relation already exists``). Django plans before any signal fires,
  so a session-level advisory lock on the target database is taken here, before planning, and
  held until the command ends; the second ``migrate`` waits, then finds nothing to do. It waits
  by polling ``pg_try_advisory_lock`` rather than blocking in ``pg_advisory_lock``: a statement
  blocked there keeps a snapshot open, and the flag migration's ``CREATE INDEX CONCURRENTLY``
  waits for every older snapshot — the two would wait for each other.
* Django runs the database-tagged system checks before it migrates; synthadmin's target checks
  would stop it when the flag is missing (``synthadmin.E002``), which is what ``migrate`` adds.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.commands import migrate
from django.db import connections

from synthadmin.checks import checks_suspended
from synthadmin.target import target_cache_clear

#: Advisory lock key of synthadmin's migrations (any constant bigint; this one spells "synthmig").
MIGRATE_LOCK_KEY = 0x73796E74686D6967
#: How often a waiting ``migrate`` asks for the lock again.
LOCK_POLL_SECONDS = 0.2


class Command(migrate.Command):
    def execute(self, *args: Any, **options: Any) -> str | None:
        # Django runs the checks in execute(), before handle().
        with checks_suspended():
            result = super().execute(*args, **options)
        target_cache_clear()
        return result

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        while True:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
                if cursor.fetchone()[0]:
                    break
            time.sleep(LOCK_POLL_SECONDS)
        try:
            super().handle(*args, **options)
        finally:
            if connection.connection is not None and connection.is_usable():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
