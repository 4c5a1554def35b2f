"""Helpers for tests that need a database of their own on the same server."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import psycopg
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


class _RowCursor(Protocol):
    def fetchone(self) -> tuple[Any, ...] | None: ...


def fetch_one(cursor: _RowCursor) -> tuple[Any, ...]:
    """The row a query returns (``conn.execute(...)`` or a cursor after ``execute``); a query that
    returns no row fails the test here, rather than as ``None[0]``."""
    row = cursor.fetchone()
    assert row is not None, "the query returned no row"
    return row


def server_params() -> dict[str, str]:
    """Host, port and superuser of the server the test suite runs on (starts it if needed)."""
    connection.ensure_connection()
    info = connection.connection.info
    return {"host": info.host, "port": str(info.port), "user": info.user}


def database_url(dbname: str, *, user: str | None = None, password: str | None = None) -> str:
    params = server_params()
    auth = quote(user or params["user"], safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return f"postgresql://{auth}@{quote(params['host'], safe='')}:{params['port']}/{dbname}"


def admin_conninfo(dbname: str = "postgres") -> str:
    params = server_params()
    return psycopg.conninfo.make_conninfo(dbname=dbname, **params)


#: Databases a test made, dropped when this process's session ends (``scratch_databases_drop``):
#: PostgreSQL's DROP DATABASE forces an immediate checkpoint and waits for it, which on a busy
#: suite took up to 31 s each; dropped back to back at the end, the first flushes and the rest
#: find little to do.
_scratch: list[tuple[str, str]] = []  # (the server's admin conninfo, the database's name)


@contextlib.contextmanager
def scratch_database(prefix: str = "scratch", *, drop_at_exit: bool = False) -> Iterator[str]:
    """A brand-new empty database, dropped when the session ends (or, ``drop_at_exit``, when the
    block ends: before a role that owns objects in it can be dropped); yields its name."""
    name = f"synthadmin_{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if not drop_at_exit:
        scratch_database_register(name)
        yield name
        return
    try:
        yield name
    finally:
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def scratch_database_register(name: str) -> None:
    """Drop ``name`` (on the test server) with the scratch databases when the session ends."""
    _scratch.append((admin_conninfo(), name))


def scratch_databases_drop() -> None:
    """Drop every scratch database this process made (its session's end)."""
    while _scratch:
        conninfo, name = _scratch.pop()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def manage_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``manage.py`` subprocess: this one, minus every Supabase, synthadmin
    and Django setting, with no ``.env`` file read (``SYNTHADMIN_ENV_FILE`` empty)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "SYNTHADMIN_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SECRET_KEY": "tests-only-not-a-secret",
            "DJANGO_SETTINGS_MODULE": "synthadmin.settings",
            "SYNTHADMIN_ENV_FILE": "",
        }
    )
    env.update(extra or {})
    return env


def manage(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python manage.py ...`` in a subprocess, as a user would."""
    full_env = manage_env(env)
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@contextlib.contextmanager
def embedded_directory() -> Iterator[Path]:
    """A directory for a test's own embedded server, outside pytest's temporary root; removed
    at the end of the block.

    The server runs as another user, who must reach its data directory; any pytest session that
    starts on the machine makes ``/tmp/pytest-of-<user>`` private again (0700), which would lock
    that user out of a server a test started there (``pg_ctl stop``: permission denied).
    """
    directory = Path(tempfile.mkdtemp(prefix="synthadmin-embedded-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
