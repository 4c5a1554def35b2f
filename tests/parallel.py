"""What lets the suite run on several pytest-xdist workers at once.

* One id per run, shared by the controller and its workers (xdist's ``testrunuid``), naming a
  temporary directory for the run's lock files.
* The machine lock: every test holds it shared; a test marked ``exclusive`` (one that measures
  time, sends signals or kills processes) holds it alone, so no other worker runs meanwhile.
  (A lock, not an ``xdist_group``: xdist 3.8 groups by rewriting ``item._nodeid``, which
  pytest 9 no longer reads.)
* The migrated template: the first worker migrates one database per run; every worker's test
  database is cloned from it (``CREATE DATABASE ... TEMPLATE``) instead of migrating again.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from synthadmin.db.embedded import ensure_running
from tests.dbutil import manage


def run_id_assign(config: pytest.Config) -> None:
    """In the controller (or a run without xdist): choose the run's id; xdist hands it to its
    workers as ``testrunuid``."""
    if hasattr(config, "workerinput"):
        return
    if getattr(config.option, "testrunuid", None) is None:
        config.option.testrunuid = uuid.uuid4().hex


def run_id(config: pytest.Config) -> str:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["testrunuid"])
    return str(config.option.testrunuid)


def _run_path(config: pytest.Config) -> Path:
    return Path(tempfile.gettempdir()) / f"synthadmin-tests-{run_id(config)[:12]}"


def run_dir(config: pytest.Config) -> Path:
    """The run's directory for lock files (the controller removes it at the end)."""
    directory = _run_path(config)
    directory.mkdir(exist_ok=True)
    return directory


def run_dir_remove(config: pytest.Config) -> None:
    shutil.rmtree(_run_path(config), ignore_errors=True)


@contextlib.contextmanager
def _flock(path: Path, operation: int) -> Iterator[IO[str]]:
    with open(path, "a") as handle:
        fcntl.flock(handle, operation)  # released when the file closes
        yield handle


@contextlib.contextmanager
def machine_share(directory: Path, *, alone: bool) -> Iterator[None]:
    """Hold the run's machine lock: shared, or ``alone`` (exclusive).

    A readers-writer lock on two files: a test waiting to run alone holds the turnstile while it
    waits, so tests that start after it queue behind it instead of keeping it waiting forever.
    """
    with open(directory / "machine.lock", "a") as handle:
        with _flock(directory / "turnstile.lock", fcntl.LOCK_EX):
            fcntl.flock(handle, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield  # released when the file closes


def server_settings(database: Mapping[str, Any]) -> dict[str, str]:
    """Host, port, user and password of the server behind Django's ``database`` settings, without
    connecting Django (the embedded server is started if needed)."""
    data_dir = database.get("EMBEDDED_DATA_DIR")
    if data_dir:
        server = ensure_running(Path(data_dir), "postgres")
        return {"host": server.host, "port": str(server.port), "user": server.user, "password": ""}
    return {
        "host": str(database.get("HOST") or ""),  # empty: libpq's default socket, as for Django
        "port": str(database.get("PORT") or "5432"),
        "user": str(database.get("USER") or "postgres"),
        "password": str(database.get("PASSWORD") or ""),
    }


def _conninfo(server: dict[str, str], dbname: str) -> str:
    params = {k: v for k, v in server.items() if v}
    return psycopg.conninfo.make_conninfo(dbname=dbname, **params)


def _url(server: dict[str, str], dbname: str) -> str:
    auth = quote(server["user"], safe="")
    if server["password"]:
        auth += ":" + quote(server["password"], safe="")
    return f"postgresql://{auth}@{quote(server['host'], safe='')}:{server['port']}/{dbname}"


def template_name(config: pytest.Config, database: Mapping[str, Any]) -> str:
    return f"test_{database['NAME']}_template_{run_id(config)[:8]}"


def template_migrated(config: pytest.Config, database: Mapping[str, Any]) -> str:
    """The run's migrated template database (made by the first worker to ask); its name.

    ``migrate`` runs as a subprocess, as a user runs it, and has ended (with its connections)
    before anyone clones the template: PostgreSQL refuses to clone a database in use.
    """
    directory = run_dir(config)
    name = template_name(config, database)
    with _flock(directory / "template.lock", fcntl.LOCK_EX):
        ready = directory / "template.ready"
        if not ready.exists():
            server = server_settings(database)
            with psycopg.connect(_conninfo(server, "postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            manage(
                "migrate",
                "--no-input",
                "-v",
                "0",
                env={"DATABASE_URL": _url(server, name), "DJANGO_SETTINGS_MODULE": "tests.settings"},
            )
            ready.write_text(name)
    return name


def template_drop(config: pytest.Config, database: Mapping[str, Any]) -> None:
    """Drop the run's template, if one was made (the controller, once every worker has ended)."""
    ready = _run_path(config) / "template.ready"
    if not ready.exists():
        return
    with psycopg.connect(_conninfo(server_settings(database), "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(ready.read_text()))
        )
