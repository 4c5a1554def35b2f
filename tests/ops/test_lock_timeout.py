"""A write that another session's lock holds up fails in one line after SYNTHADMIN_LOCK_TIMEOUT,
instead of waiting for as long as the other transaction lasts.

A second connection holds ``public.check_ins`` in SHARE mode (as a long transaction of the app
might, or a ``CREATE INDEX``) while a real command writes check-ins: ``extend_synthetic`` reports
each patient it could not extend and exits 2 within seconds; ``purge_synthetic`` (whose delete
cascades to check-ins) names the setting and deletes nobody. Nothing was written either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import admin_conninfo, database_url, manage
from tests.invariants import synthetic_counts

ENV = {"SYNTHADMIN_LOCK_TIMEOUT": "0.3", "SYNTHADMIN_AUTH_RETRY_ATTEMPTS": "2"}


@contextlib.contextmanager
def _check_ins_locked() -> Iterator[None]:
    with psycopg.connect(admin_conninfo(connection.settings_dict["NAME"])) as holder:
        holder.execute("LOCK TABLE public.check_ins IN SHARE MODE")  # held until the rollback
        try:
            yield
        finally:
            holder.rollback()


def _run(*args: str):
    env = {**ENV, "DATABASE_URL": database_url(connection.settings_dict["NAME"])}
    began = time.monotonic()
    result = manage(*args, env=env, check=False)
    return result, time.monotonic() - began


@pytest.fixture
def run_id(real_population):
    request = GenerationRequest(patients=2, checkin_days=3, seed=3, end_date=dt.date(2026, 6, 30))
    report = population_generate(request=request, started_by=Starter("os:tester"))
    assert report.status == "succeeded"
    return str(report.run_id)


def test_a_session_waits_for_a_lock_at_most_the_configured_time(db):
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"])}
    shown = manage(
        "shell",
        "-c",
        "from django.db import connection as c; k = c.cursor(); "
        "k.execute('SHOW lock_timeout'); print(k.fetchone()[0])",
        env=env,
    ).stdout.split()[-1]
    assert shown == "5s"  # the default, SYNTHADMIN_LOCK_TIMEOUT=5


def test_extend_held_up_by_a_lock_fails_in_one_line_and_writes_nothing(run_id):
    before = synthetic_counts()
    with _check_ins_locked():
        result, took = _run("extend_synthetic", "--days", "2", "--run", run_id, "-v", "0")
    assert result.returncode == 2, result.stderr
    assert took < 60
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert len(errors) == 1 and "lock timeout" in errors[0]
    assert "Traceback" not in result.stderr
    assert synthetic_counts() == before


def test_purge_held_up_by_a_lock_names_the_setting_and_deletes_nobody(run_id):
    before = synthetic_counts()
    with _check_ins_locked():
        result, took = _run("purge_synthetic", "--run", run_id, "--yes", "-v", "0")
    assert result.returncode == 2, result.stderr
    assert took < 60
    errors = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert len(errors) == 1 and "SYNTHADMIN_LOCK_TIMEOUT" in errors[0]
    assert "Traceback" not in result.stderr
    assert synthetic_counts() == before
