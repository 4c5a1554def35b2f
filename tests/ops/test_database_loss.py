"""The database lost mid-run: reported as what it is, naming the right variable, with what was
already written, exit 3; a purge afterwards finishes the run."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from synthadmin.db.errors import database_lost_message
from synthadmin.management import exitcodes
from synthadmin.models import SyntheticRun, SyntheticUser
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import finish, start_manage, test_database_env, wait_for

APP = "synthadmin-loss-test"


def _terminate_command_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            # This test database only: another suite on the same server may run this test too.
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [APP],
        )
        return cursor.fetchone()[0]


@pytest.mark.exclusive
def test_terminated_sessions_exit_3_naming_database_url_and_what_was_written(real_population):
    # PGAPPNAME tags every session of the command, so only those are terminated.
    env = test_database_env({"PGAPPNAME": APP, "SYNTHADMIN_AUTH_RETRY_ATTEMPTS": "1"})
    process = start_manage(
        "generate_synthetic", "--patients", "400", "--checkins", "365", "--concurrency", "2", env=env
    )
    try:
        wait_for(lambda: SyntheticUser.objects.filter(state="complete").count() >= 3, process)
        assert _terminate_command_sessions() >= 1
        time.sleep(0.3)
        _terminate_command_sessions()  # a session that was just being opened
    finally:
        _out, err = finish(process)
    assert process.returncode == exitcodes.STOPPED, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "lost the database" in line]
    assert len(lines) == 1, err
    line = lines[0]
    run = SyntheticRun.objects.get()
    # The right variable: DATABASE_URL was set (never "unset ... embedded").
    assert "DATABASE_URL" in line and "embedded" not in line
    assert f"database {connection.settings_dict['NAME']}" in line
    # What was written, from the ledger, and how to finish.
    complete = SyntheticUser.objects.filter(run=run, state="complete").count()
    assert f"wrote {complete:,} complete users" in line
    assert f"purge_synthetic --run {run.id}" in line
    # Purge finishes what the cut-off run left (an Auth user in flight, say).
    purged = start_manage("purge_synthetic", "--run", str(run.id), "--yes", env=test_database_env())
    _out, err = finish(purged)
    assert purged.returncode == 0, err
    assert synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)


def test_lost_embedded_database_names_the_data_directory_not_database_url():
    settings_dict = {
        "NAME": "synthadmin",
        "HOST": "/work/x/.localdb/pgdata",
        "PORT": "5432",
        "USER": "postgres",
        "EMBEDDED_DATA_DIR": "/work/x/.localdb",
    }
    import psycopg

    message = database_lost_message(settings_dict, psycopg.OperationalError("server closed the connection"))
    assert "\n" not in message
    assert "embedded PostgreSQL" in message and "/work/x/.localdb" in message
    assert "DATABASE_URL is unset" in message and "SYNTHADMIN_DATA_DIR" in message
