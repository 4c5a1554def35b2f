"""Django database backend used for every synthadmin connection (see the package docstring)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.db.backends.postgresql import base as postgresql

#: The schema that holds every table Django itself manages.
DJANGO_SCHEMA = "synthadmin"
SEARCH_PATH = f"{DJANGO_SCHEMA}, public"

_announced = False


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        data_dir = self.settings_dict.get("EMBEDDED_DATA_DIR")
        if data_dir:
            from synthadmin.embedded import ensure_running

            server = ensure_running(Path(data_dir), self.settings_dict["NAME"] or "postgres")
            self.settings_dict.update(HOST=server.host, PORT=str(server.port), USER=server.user)
        params = super().get_connection_params()
        _announce(self.settings_dict, params)
        return params

    def _configure_connection(self, connection: Any) -> bool:
        commit = super()._configure_connection(connection)
        with connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {SEARCH_PATH}")
        return True if not connection.autocommit else commit


def describe(settings_dict: dict[str, Any], dbname: str | None = None) -> str:
    """A one-line, password-free description of where a connection goes."""
    if settings_dict.get("EMBEDDED_DATA_DIR") and not settings_dict.get("HOST"):
        name = dbname or settings_dict.get("NAME")
        where = settings_dict["EMBEDDED_DATA_DIR"]
        return f"embedded PostgreSQL in {where} (not started yet), database {name}"
    host = settings_dict.get("HOST") or "local socket"
    port = settings_dict.get("PORT") or "5432"
    where = f"socket {host}" if str(host).startswith("/") else f"{host}:{port}"
    kind = "embedded PostgreSQL" if settings_dict.get("EMBEDDED_DATA_DIR") else "PostgreSQL"
    user = settings_dict.get("USER") or "(default user)"
    return f"{kind} at {where}, database {dbname or settings_dict.get('NAME')}, user {user}"


def _announce(settings_dict: dict[str, Any], params: dict[str, Any]) -> None:
    global _announced
    if _announced or os.environ.get("SYNTHADMIN_ANNOUNCE_DATABASE") != "1":
        return
    _announced = True
    sys.stderr.write(f"synthadmin: using {describe(settings_dict, params.get('dbname'))}\n")
