"""TLS to the database (issue 22, item 3): ``DATABASE_URL`` with ``sslmode=verify-full`` and
``sslrootcert`` against a PostgreSQL the test starts with TLS only, from a CA the test made —
migrate, generate and purge work; a CA that did not sign the server's certificate is one line,
exit 1, nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from tests.dbutil import manage
from tests.support.tls import TestCA
from tests.support.tls_postgres import TLSPostgres, postgres_bin

pytestmark = pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL binaries to start a TLS server")


@pytest.fixture(scope="module")
def tls_database(tmp_path_factory) -> Iterator[tuple[TLSPostgres, TestCA]]:
    ca = TestCA(tmp_path_factory.mktemp("db-ca"), name="Supabase-like root CA (tests)")
    with TLSPostgres(ca) as server:
        with psycopg.connect(
            server.url("postgres", sslmode="verify-full", sslrootcert=str(ca.cert)), autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE synthadmin")
        yield server, ca


def _env(url: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "DJANGO_DEBUG": "0", "PYTHONUNBUFFERED": "1"}


def test_verify_full_migrate_generate_and_purge(tls_database):
    server, ca = tls_database
    url = server.url("synthadmin", sslmode="verify-full", sslrootcert=str(ca.cert))
    manage("migrate", "-v", "0", env=_env(url))
    made = manage("generate_synthetic", "--patients", "3", "--checkins", "5", "--json", env=_env(url))
    run_id = json.loads(made.stdout)["run_id"]
    purged = manage("purge_synthetic", "--run", run_id, "--yes", "--json", env=_env(url))
    assert json.loads(purged.stdout)["users_deleted"] == 3
    with psycopg.connect(url) as conn:
        # This very connection is TLS (the server refuses any other), verified against the CA.
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM auth.users").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM synthadmin.synthadmin_syntheticuser WHERE state = 'purged'"
        ).fetchone() == (3,)


def test_a_wrong_ca_is_one_line_and_exit_1(tls_database, tmp_path):
    server, _ca = tls_database
    stranger = TestCA(tmp_path / "other-ca", name="Another CA")
    url = server.url("synthadmin", sslmode="verify-full", sslrootcert=str(stranger.cert))
    result = manage("generate_synthetic", "--patients", "1", env=_env(url), check=False)
    assert result.returncode == 1, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("synthadmin: using")
    ]
    assert len(lines) == 1, result.stderr
    assert "certificate" in lines[0].lower() and "Traceback" not in result.stderr
    assert result.stdout == ""
