"""The Django database backend of every synthadmin connection (see the package docstring)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base as postgresql

from synthadmin.db.budget import slot_give, slot_take
from synthadmin.db.embedded import ensure_running
from synthadmin.db.pooler import pooler_refuse, reached_directly
from synthadmin.db.session import application_name, pin_session, session_options

_announced = False
#: (host, port) pairs whose server refused the ``options`` startup parameter (a PgBouncer).
_options_refused: set[tuple[Any, ...]] = set()
_options_lock = threading.Lock()


class DatabaseWrapper(postgresql.DatabaseWrapper):
    #: The server's id of this connection's session, as it said when the session was pinned.
    server_pid: int | None = None
    #: This connection was made with the ``options`` startup parameter (the session settings).
    _took_options = False
    #: Gives back this wrapper's slot of the process's connection budget (``synthadmin.db.budget``)
    #: once: when its connection closes, or when the wrapper goes (a thread that ended unclosed).
    _slot: weakref.finalize[Any, Any] | None = None

    def connect(self) -> None:
        """Take a slot of the process's connection budget, then connect; a connection that fails
        on the way (refused, or a transaction pooler) is closed and its slot given back."""
        self._slot_give()  # never two slots for one wrapper
        slot_take()
        self._slot = weakref.finalize(self, slot_give)
        try:
            super().connect()
        except BaseException:
            if self.connection is not None:
                with contextlib.suppress(Exception):
                    self.connection.close()
                self.connection = None
            self._slot_give()
            raise

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # not in the stubs
        finally:
            self._slot_give()

    def _slot_give(self) -> None:
        if self._slot is not None:
            self._slot()  # a finalizer runs once: the slot is given back once
            self._slot = None

    def get_connection_params(self) -> dict[str, Any]:
        data_dir = self.settings_dict.get("EMBEDDED_DATA_DIR")
        if data_dir:
            server = ensure_running(Path(data_dir), self.settings_dict["NAME"] or "postgres")
            self.settings_dict.update(HOST=server.host, PORT=str(server.port), USER=server.user)
        params = super().get_connection_params()
        params["options"] = session_options(params.get("options"), lock_timeout_ms=lock_timeout_ms())
        # libpq's fallback: a name the deployer gave (PGAPPNAME, application_name in the URL) wins.
        params["fallback_application_name"] = application_name()
        _announce(self.settings_dict, params)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        plain = {**conn_params, "options": self.settings_dict.get("OPTIONS", {}).get("options")}
        if not plain["options"]:
            plain.pop("options")
        where = (conn_params.get("host"), conn_params.get("port"))
        with _options_lock:
            refuses_options = where in _options_refused
        self._took_options = False
        if refuses_options:
            return super().get_new_connection(plain)
        try:
            connection = super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            # PgBouncer refuses the ``options`` startup parameter outright. Try once without it
            # (pin_session then sets everything); if that fails too, the first error stands.
            # Once it worked, this process goes there without ``options``: one refused startup
            # per process, not one per connection (PgBouncer 1.18 was seen to hold the answer
            # to one of many rapid refused startups for minutes).
            try:
                connection = super().get_new_connection(plain)
            except psycopg.OperationalError:
                pass
            else:
                with _options_lock:
                    _options_refused.add(where)
                return connection
            raise
        self._took_options = True
        return connection

    def _configure_connection(self, connection: Any) -> bool:
        commit: bool = super()._configure_connection(connection)  # type: ignore[misc]  # not in the stubs
        if self._took_options and reached_directly(self.settings_dict):
            # PostgreSQL itself (no pooler, seen by this process) applied ``options`` at connect:
            # the session is pinned already, and its handshake was its only cost.
            self.server_pid = None
            return commit
        self.server_pid = pin_session(connection, lock_timeout_ms=lock_timeout_ms())
        return True if not connection.autocommit else commit

    def init_connection_state(self) -> None:
        super().init_connection_state()
        pooler_refuse(self, describe(self.settings_dict), server_pid=self.server_pid)

    def backend_pid(self, query: str = "SELECT pg_backend_pid()") -> int:
        """This connection's server backend, asked in a transaction of its own."""
        with self.connection.cursor() as cursor:
            cursor.execute(query)
            pid = int(cursor.fetchone()[0])
        if not self.connection.autocommit:
            self.connection.commit()
        return pid


def lock_timeout_ms() -> int:
    """``SYNTHADMIN_LOCK_TIMEOUT`` in milliseconds (0: no limit)."""
    seconds = float(getattr(settings, "SYNTHADMIN_LOCK_TIMEOUT", 0.0))
    return max(round(seconds * 1000), 1) if seconds > 0 else 0


def describe(settings_dict: Mapping[str, Any], dbname: str | None = None) -> str:
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


def configured_by(settings_dict: dict[str, Any]) -> str:
    """Which setting chose this database, for messages that tell the operator what to check."""
    data_dir = settings_dict.get("EMBEDDED_DATA_DIR")
    if data_dir:
        return (
            f"DATABASE_URL is unset, so synthadmin uses its embedded PostgreSQL, data directory "
            f"{data_dir} (SYNTHADMIN_DATA_DIR; its server log is {Path(data_dir) / 'pgdata' / 'log'})"
        )
    return "check DATABASE_URL and that the server is up"


def _announce(settings_dict: dict[str, Any], params: dict[str, Any]) -> None:
    global _announced
    if _announced or os.environ.get("SYNTHADMIN_ANNOUNCE_DATABASE") != "1":
        return
    _announced = True
    line = f"using {describe(settings_dict, params.get('dbname'))}"
    if getattr(settings, "SYNTHADMIN_LOG_FORMAT", "plain") == "json":
        logging.getLogger("synthadmin.db").info(line)  # stderr stays one JSON object per line
        return
    sys.stderr.write(f"synthadmin: {line}\n")
