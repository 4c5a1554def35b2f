"""First start is race-free: two commands at the same moment on a new data directory, and two
``migrate`` at once on a new database, both succeed — every time."""

from __future__ import annotations

import functools
import subprocess
import time
from pathlib import Path

import fasteners
import psutil
import psycopg
import pytest

from synthadmin.db.embedded import START_LOCK
from synthadmin.management.commands.migrate import LOCK_POLL_SECONDS, MIGRATE_LOCK_KEY
from tests.dbutil import admin_conninfo, database_url, fetch_one, manage_env, scratch_database
from tests.ops.helpers import start_manage, wait_for
from tests.test_embedded_database import _stop

#: Kept small enough for the whole module to stay well under a minute on a shared 2-core box.
#: Each round releases both commands at the same instant (as below for ``migrate``).
NEW_DATA_DIR_ROUNDS = 2
#: Each round releases both ``migrate`` at the same instant (the test holds their lock until both
#: wait for it), the closest race there is; without the command's lock one round fails (4 of 4).
MIGRATE_ROUNDS = 2
#: Not ``exclusive``: the race is between the test's own two processes, whose outcome must not
#: depend on what else runs (other tests beside them only vary the interleaving); the bound is a
#: guard against a hang, sized for a machine busy with the rest of the suite.
WHOLE_TEST_BOUND_SECONDS = 120


def _start(*commands: tuple[str, ...], env: dict[str, str]) -> list[subprocess.Popen]:
    return [start_manage(*args, env=manage_env(env)) for args in commands]


def _wait(processes: list[subprocess.Popen]) -> list[subprocess.CompletedProcess]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def _together(*commands: tuple[str, ...], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """Start every command at once; wait for all."""
    return _wait(_start(*commands, env=env))


def _sessions_besides(conn: psycopg.Connection, name: str) -> int:
    return fetch_one(
        conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
        )
    )[0]


def _holding_open(process: subprocess.Popen, path: Path) -> bool:
    try:
        return any(Path(f.path) == path for f in psutil.Process(process.pid).open_files())
    except psutil.NoSuchProcess:
        return False


def test_two_commands_on_a_new_data_directory_both_succeed(embedded_tmp: Path):
    began = time.monotonic()
    for round_ in range(NEW_DATA_DIR_ROUNDS):
        data_dir = embedded_tmp / f"localdb{round_}"
        data_dir.mkdir()
        lock_path = data_dir / START_LOCK
        # The test takes the first-start lock first: both commands open it and wait for it.
        held = fasteners.InterProcessLock(str(lock_path))
        held.acquire()
        try:
            processes = _start(
                ("migrate", "--no-input", "-v", "0"),
                ("migrate", "--no-input", "-v", "0"),
                env={"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""},
            )
            try:
                for process in processes:
                    wait_for(functools.partial(_holding_open, process, lock_path), process)
                time.sleep(0.3)  # both have asked for it
                waiting = sorted(p.name for p in data_dir.iterdir())
            finally:
                held.release()  # both at once
            results = _wait(processes)
            for result in results:
                assert result.returncode == 0, f"round {round_}: {result.stderr}"
                assert "Traceback" not in result.stderr
            assert waiting == [START_LOCK], "a command did not wait for the first-start lock"
        finally:
            _stop(data_dir)
    assert time.monotonic() - began < WHOLE_TEST_BOUND_SECONDS


@pytest.mark.django_db
def test_two_migrates_at_once_on_a_new_database_both_succeed():
    began = time.monotonic()
    for round_ in range(MIGRATE_ROUNDS):
        with scratch_database("race") as name, psycopg.connect(admin_conninfo(name), autocommit=True) as held:
            # The test takes the migrate lock first: both commands connect and wait for it.
            held.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
            processes = _start(
                ("migrate", "--no-input", "-v", "0"),
                ("migrate", "--no-input", "-v", "0"),
                env={"DATABASE_URL": database_url(name)},
            )
            try:
                wait_for(lambda: _sessions_besides(held, name) >= 2, processes[0])
                assert processes[1].poll() is None, "the second migrate ended while the lock was held"
                time.sleep(LOCK_POLL_SECONDS * 2)  # both have asked for the lock and wait
                waiting = fetch_one(held.execute("SELECT to_regclass('synthadmin.django_migrations')"))[0]
            finally:
                held.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])  # both at once
            results = _wait(processes)
            for result in results:
                assert result.returncode == 0, f"round {round_}: {result.stderr}"
            assert waiting is None, "a migrate did not wait for the lock"
            applied = fetch_one(
                held.execute("SELECT count(*), count(DISTINCT (app, name)) FROM synthadmin.django_migrations")
            )
            assert applied[0] == applied[1] > 0  # each migration recorded once
    assert time.monotonic() - began < WHOLE_TEST_BOUND_SECONDS
