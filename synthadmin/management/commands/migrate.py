"""``migrate``, with synthadmin's target checks suspended: migrating is what fixes them.

Django runs the database-tagged system checks before it migrates; synthadmin's would stop it
when the flag is missing (``synthadmin.E002``), which is exactly what ``migrate`` adds.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand

from synthadmin.checks import checks_suspended
from synthadmin.target import target_cache_clear


class Command(MigrateCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        # Django runs the checks in execute(), before handle().
        with checks_suspended():
            result = super().execute(*args, **options)
        target_cache_clear()
        return result
