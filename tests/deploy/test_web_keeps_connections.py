"""The web process keeps its database connection between requests, named ``synthadmin web``.

The README's serve command (one process, one request thread) answers the health endpoint, which
reads the database, several times in a row: one server session serves them all (the same
backend pid in ``pg_stat_activity``), so a page costs its queries, not a new connection's
handshakes. ``SYNTHADMIN_WEB_CONN_MAX_AGE=0`` gives a new session per request instead (what
makes the first result the setting's doing). The test suite's own process never keeps one: its
settings stay at Django's default, where the test client's requests cannot leak a connection
from one test into the next.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable

import httpx
import psutil
import psycopg
import pytest
from django.db import connection, connections

from tests.dbutil import admin_conninfo, fetch_one, server_params
from tests.deploy.conftest import wait_for
from tests.support.latency_proxy import LatencyProxy

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 5


@pytest.fixture
def web_sessions() -> Callable[[], set[int]]:
    """``web_sessions()``: the web sessions on this test's database opened since the test began.
    Other tests' servers run at the same time on other databases, and the session of a server an
    earlier test on this database stopped can still be listed for a moment while its backend
    exits (CI saw 3 sessions of a budget of 2): counted from the database's clock at the start."""
    conninfo = admin_conninfo(connection.settings_dict["NAME"])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        began = fetch_one(conn.execute("SELECT now()"))[0]

    def sessions() -> set[int]:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'synthadmin web' AND backend_start >= %s",
                [began],
            )
            return {pid for (pid,) in rows.fetchall()}

    return sessions


def _sessions_across_requests(server, web_sessions: Callable[[], set[int]]) -> list[set[int]]:
    seen = []
    for _ in range(REQUESTS):
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        seen.append(web_sessions())
    return seen


def test_one_session_serves_request_after_request(production_server, web_sessions):
    server = production_server(SYNTHADMIN_WEB_THREADS="1")
    seen = _sessions_across_requests(server, web_sessions)
    assert all(sessions == seen[0] for sessions in seen), seen
    assert len(seen[0]) == 1


def test_without_a_max_age_each_request_has_its_own_session(production_server, web_sessions):
    server = production_server(SYNTHADMIN_WEB_THREADS="1", SYNTHADMIN_WEB_CONN_MAX_AGE="0")
    for _ in range(REQUESTS):
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        # Closed at the request's end (its server session may take a moment to go).
        wait_for(lambda: not web_sessions(), timeout=10, what="the request's session to close")


def test_the_test_process_keeps_no_connection_between_requests():
    assert connections.settings["default"]["CONN_MAX_AGE"] == 0


def _database_sockets(server, port: int) -> int:
    """TCP connections to ``port`` the server's processes hold open now: what a process holds,
    exactly (a connection it closed is gone from its file table at once, while the database may
    still list the closing session for a moment: CI counted 3 sessions of a budget of 2 that way)."""
    held = 0
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(server.process.pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                held += sum(
                    1
                    for sock in process.net_connections(kind="tcp")
                    if sock.raddr and sock.raddr.port == port and sock.status == psutil.CONN_ESTABLISHED
                )
    return held


def test_request_threads_share_the_connection_budget(production_server):
    """Eight request threads, two connections allowed: thirty-two requests, sixteen at once, all
    answer, and the process never holds more than two database connections (counted from its own
    sockets, to a proxy the test puts in front of the database) — while it did use the database."""
    params = server_params()
    with LatencyProxy(params["host"], int(params["port"])) as proxy:
        url = f"postgresql://{params['user']}@127.0.0.1:{proxy.port}/{connection.settings_dict['NAME']}"
        server = production_server(
            SYNTHADMIN_WEB_THREADS="8", SYNTHADMIN_DB_CONNECTIONS="2", DATABASE_URL=url
        )
        most = 0
        done = threading.Event()

        def watch() -> None:
            nonlocal most
            while not done.is_set():
                most = max(most, _database_sockets(server, proxy.port))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda _: httpx.get(f"{server.url}/healthz", timeout=60), range(32)))
        finally:
            done.set()
            watcher.join()
        assert [answer.status_code for answer in answers] == [200] * 32
        assert 1 <= most <= 2
        assert proxy.counts.connections >= 1
