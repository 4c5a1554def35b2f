"""What the export's guest tests share: a database that ends sessions idle in a transaction, a
population larger than the socket buffers, a real WSGI server (gunicorn), a reader that pauses,
and a way to end the export's own database session from outside."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from synthadmin.services.export import checkins_export_write
from tests.dbutil import ROOT, admin_conninfo, database_url, manage_env
from tests.story.conftest import generate

#: What the tests set on the database (production databases use such settings, 5 s and more).
IDLE_TIMEOUT = "2s"
#: Longer than the timeout: how long a reader stops part way.
PAUSE_SECONDS = 3.0
#: The ``application_name`` of the processes under test (libpq's PGAPPNAME), to find their sessions.
APP_NAME = "synthadmin-export-under-test"
#: A small receive buffer: the server's writes block soon, as behind a slow network.
RECEIVE_BUFFER = 4096


@dataclass(frozen=True)
class Population:
    run_id: str
    rows: int
    csv: bytes


def population_generate_large() -> Population:
    """150 patients x 365 days (about 40,000 check-ins, 8 MB of CSV: more than the socket
    buffers on both sides) and the export of it as read in one go, for comparison."""
    report = generate(patients=150, days=365, pattern="cycling", seed=11)
    out = io.StringIO()
    rows = checkins_export_write(run=report.run_id, fmt="csv", out=out)
    data = out.getvalue().encode("utf-8")
    assert len(data) > 6_000_000
    return Population(str(report.run_id), rows, data)


@contextlib.contextmanager
def idle_in_transaction_timeout(value: str = IDLE_TIMEOUT) -> Iterator[None]:
    """``ALTER DATABASE <test database> SET idle_in_transaction_session_timeout``, for the
    sessions opened from now on (this test's own is reopened); reset afterwards."""
    name = connection.settings_dict["NAME"]
    with psycopg.connect(admin_conninfo(), autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("ALTER DATABASE {} SET idle_in_transaction_session_timeout = {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Literal(value)
            )
        )
    connection.close()
    try:
        yield
    finally:
        with psycopg.connect(admin_conninfo(), autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("ALTER DATABASE {} RESET idle_in_transaction_session_timeout").format(
                    psycopg.sql.Identifier(name)
                )
            )
        connection.close()


def sessions_of_app() -> list[tuple[int, str]]:
    """(pid, state) of the sessions the processes under test have open."""
    with psycopg.connect(admin_conninfo(), autocommit=True) as admin:
        return admin.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
            [APP_NAME, connection.settings_dict["NAME"]],
        ).fetchall()


def sessions_of_app_terminate() -> int:
    """End the sessions of the processes under test (what an operator or a failover does)."""
    with psycopg.connect(admin_conninfo(), autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = %s",  # this worker's database only
                [APP_NAME, connection.settings_dict["NAME"]],
            ).fetchall()
        )


def app_env() -> dict[str, str]:
    """The environment of a process under test: the test database, named ``APP_NAME``."""
    return manage_env(
        {
            "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
            "PGAPPNAME": APP_NAME,
            "PYTHONUNBUFFERED": "1",
        }
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server() -> Iterator[int]:
    """synthadmin under gunicorn (one sync worker) on a free port of 127.0.0.1; yields the port.

    In a process group of its own, ended whole at the end (its worker too, even one blocked on
    a client that stopped reading); its log goes to a file, never to a pipe nobody drains.
    """
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "synthadmin.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--workers=1",
        "--timeout=120",
        "--graceful-timeout=5",
        "--log-level=warning",
    ]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            argv, cwd=ROOT, env=app_env(), stdout=log, stderr=log, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if server.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"gunicorn ended: {log.read().decode()[-2000:]}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
            yield port
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # a worker left behind, if any
            server.wait(timeout=10)


def staff_cookie() -> str:
    """A logged-in superuser's session cookie (the session is in the database the server reads)."""
    user = User.objects.create_superuser("exporter", "exporter@example.org", "x")
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def download_open(port: int, path: str, cookie: str) -> http.client.HTTPResponse:
    """GET ``path`` over a connection with a small receive buffer; the response, unread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.sock = sock
    conn.request("GET", path, headers={"Cookie": cookie})
    return conn.getresponse()


def waiting_states(*, timeout: float = 20) -> list[str]:
    """Once the process under test has filled what the pipe or socket holds and waits for the
    reader: its sessions' states — ``idle`` when no transaction waits on the reader (today),
    ``idle in transaction`` when one does (what the timeout then ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = sorted(state or "" for _, state in sessions_of_app())
        if states and all(state in ("idle", "idle in transaction") for state in states):
            time.sleep(0.2)  # still so a moment later: waiting on the reader, not between queries
            if sorted(state or "" for _, state in sessions_of_app()) == states:
                return states
        time.sleep(0.05)
    raise AssertionError(f"the export's session never waited for the reader: {sessions_of_app()}")
