"""At most SYNTHADMIN_DB_CONNECTIONS connections per process, each named for the app's operators.

A real ``generate_synthetic`` (a new process, eight Auth workers asked for) while the test counts
the rows of ``pg_stat_activity`` named ``synthadmin generate_synthetic``: never more than the
budget (4 by default), and more than one (the workers did share the work).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import connection

from tests.dbutil import ROOT, admin_conninfo, database_url, fetch_one, manage_env


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_run_stays_within_the_connection_budget(real_population):
    name = connection.settings_dict["NAME"]
    seen: list[int] = []
    done = threading.Event()

    def count() -> None:
        with psycopg.connect(admin_conninfo(name), autocommit=True) as conn:
            while not done.is_set():
                seen.append(
                    fetch_one(
                        conn.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND application_name = 'synthadmin generate_synthetic'"
                        )
                    )[0]
                )
                time.sleep(0.01)

    watcher = threading.Thread(target=count, daemon=True)
    watcher.start()
    env = manage_env({"DATABASE_URL": database_url(name), "SYNTHADMIN_AUTH_CONCURRENCY": "8"})
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "generate_synthetic", "--patients", "40", "-v", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        done.set()
        watcher.join()
    assert result.returncode == 0, result.stderr
    print(f"connections named 'synthadmin generate_synthetic': at most {max(seen)} at once")
    assert 1 < max(seen) <= 4
