"""A ``postmaster.pid`` left by a crash, whose PID now belongs to another (non-PostgreSQL)
process, is cleared: the next command starts the server instead of failing "Connection refused"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil

from synthadmin.db.embedded import clear_stale_pid_file
from tests.dbutil import manage
from tests.test_embedded_database import QUERY, _postmaster_pid, _stop


def test_stale_pid_file_naming_another_process_is_cleared(embedded_tmp: Path):
    data_dir = embedded_tmp / "localdb"
    env = {"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    squatter = subprocess.Popen(["sleep", "120"])
    try:
        manage("shell", "-c", QUERY, env=env)
        pid_file = data_dir / "pgdata" / "postmaster.pid"
        crashed = pid_file.read_text().splitlines()
        _stop(data_dir)
        assert not pid_file.exists()
        # As after a crash and a PID reused: the old file, naming a live process that is not ours.
        crashed[0] = str(squatter.pid)
        pid_file.write_text("\n".join(crashed) + "\n")
        result = manage("shell", "-c", QUERY, env=env, check=False)
        assert result.returncode == 0, result.stderr
        server = psutil.Process(_postmaster_pid(data_dir))
        assert server.name() == "postgres" and server.pid != squatter.pid
        assert squatter.poll() is None  # the other process is left alone
    finally:
        squatter.kill()
        squatter.wait()
        _stop(data_dir)


def test_pid_file_naming_a_live_non_postgres_process_is_removed(tmp_path: Path):
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    # A live process that is not PostgreSQL: the file is stale and goes.
    (pgdata / "postmaster.pid").write_text(f"{psutil.Process().pid}\n{pgdata}\n")
    clear_stale_pid_file(pgdata)
    assert not (pgdata / "postmaster.pid").exists()
    # No file: nothing to do.
    clear_stale_pid_file(pgdata)
