"""``python manage.py embedded_postgres status|stop``: the embedded PostgreSQL (a thin adapter).

The server used when ``DATABASE_URL`` is unset starts on first use and keeps running for the
next command (``synthadmin.db.embedded``). ``stop`` ends it cleanly (the next command starts it
again); do it before moving or deleting ``SYNTHADMIN_DATA_DIR``. Exit 1 when ``DATABASE_URL``
is set (there is no embedded server) or when the server does not stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from synthadmin.db.embedded import EmbeddedServerError, server_pid, stop_server


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL (used when DATABASE_URL is unset)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "stop"], help="status: is it running; stop: end it")

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = settings.DATABASES["default"].get("EMBEDDED_DATA_DIR")
        if not data_dir:
            raise CommandError(
                "DATABASE_URL is set: synthadmin uses that database, there is no embedded server"
            )
        where = Path(str(data_dir))
        if options["action"] == "status":
            pid = server_pid(where)
            self.stdout.write(
                f"running (pid {pid}) in {where}" if pid is not None else f"not running ({where})"
            )
            return
        try:
            pid = stop_server(where)
        except EmbeddedServerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"stopped (pid {pid}) in {where}" if pid is not None else f"not running ({where})")
