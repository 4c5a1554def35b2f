"""First start is race-free: two commands at the same moment on a new data directory, and two
``migrate`` at once on a new database, both succeed — every time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.dbutil import ROOT, admin_conninfo, database_url, fetch_one, manage_env, scratch_database
from tests.test_embedded_database import _stop

#: Kept small enough for the whole module to stay well under a minute on a shared 2-core box.
NEW_DATA_DIR_ROUNDS = 3
MIGRATE_ROUNDS = 10
#: Not ``exclusive``: the race is between the test's own two processes, whose outcome must not
#: depend on what else runs (other tests beside them only vary the interleaving); the bound is a
#: guard against a hang, sized for a machine busy with the rest of the suite.
WHOLE_TEST_BOUND_SECONDS = 120


def _together(*commands: tuple[str, ...], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """Start every command at once; wait for all."""
    full_env = manage_env(env)
    processes = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for process, args in zip(processes, commands, strict=True):
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results


def test_two_commands_on_a_new_data_directory_both_succeed(embedded_tmp: Path):
    began = time.monotonic()
    for round_ in range(NEW_DATA_DIR_ROUNDS):
        data_dir = embedded_tmp / f"localdb{round_}"
        try:
            results = _together(
                ("migrate", "--no-input", "-v", "0"),
                ("migrate", "--no-input", "-v", "0"),
                env={"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""},
            )
            for result in results:
                assert result.returncode == 0, f"round {round_}: {result.stderr}"
                assert "Traceback" not in result.stderr
        finally:
            _stop(data_dir)
    assert time.monotonic() - began < WHOLE_TEST_BOUND_SECONDS


@pytest.mark.django_db
def test_two_migrates_at_once_on_a_new_database_both_succeed():
    began = time.monotonic()
    for round_ in range(MIGRATE_ROUNDS):
        with scratch_database("race") as name:
            results = _together(
                ("migrate", "--no-input", "-v", "0"),
                ("migrate", "--no-input", "-v", "0"),
                env={"DATABASE_URL": database_url(name)},
            )
            for result in results:
                assert result.returncode == 0, f"round {round_}: {result.stderr}"
            with psycopg.connect(admin_conninfo(name)) as conn:
                applied = fetch_one(
                    conn.execute(
                        "SELECT count(*), count(DISTINCT (app, name)) FROM synthadmin.django_migrations"
                    )
                )
            assert applied[0] == applied[1] > 0  # each migration recorded once
    assert time.monotonic() - began < WHOLE_TEST_BOUND_SECONDS
