"""``extend_synthetic``: --to-today (the scheduled top-up) and --days, a thin adapter over the services."""

from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import database_url, manage


def _generate(*, patients: int = 2, ended_days_ago: int = 12):
    return population_generate(
        request=GenerationRequest(
            patients=patients,
            checkin_days=30,
            pattern="cycling",
            seed=11,
            end_date=timezone.localdate() - dt.timedelta(days=ended_days_ago),
        ),
        started_by=Starter("os:tester"),
    )


def _checkins() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, user_id, checkin_date FROM public.check_ins")
        return set(cursor.fetchall())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--all",), "say what to add: --to-today"),
        (("--to-today",), "say which patients: --run ID"),
        (("--to-today", "--run", "not-a-uuid"), "--run: not a run id"),
        (("--to-today", "--run", "9f0e8d7c-0000-4000-8000-000000000000"), "--run: no synthadmin run with id"),
        (("--to-today", "--all", "--pattern", "manic"), "--pattern and --seed go with --days"),
        (("--days", "-1", "--all"), "--days: "),
        (("--to-today", "--days", "3", "--all"), "not allowed with argument"),
        (
            ("--to-today", "--all", "--run", "9f0e8d7c-0000-4000-8000-000000000000"),
            "not allowed with argument",
        ),
    ],
)
def test_bad_input_is_one_line_exit_1_and_writes_nothing(supabase_tables_cleanup, args, message):
    _generate(patients=1)
    before, runs = _checkins(), SyntheticRun.objects.count()

    result = manage(
        "extend_synthetic",
        *args,
        env={"DATABASE_URL": database_url(connection.settings_dict["NAME"])},
        check=False,
    )

    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("synthadmin: using")]
    assert len(lines) == 1 and lines[0].startswith("CommandError: ") and message in lines[0], lines
    assert result.stdout == ""
    assert _checkins() == before and SyntheticRun.objects.count() == runs


def test_to_today_all_twice_adds_nothing_the_second_time(supabase_tables_cleanup):
    report = _generate(patients=3)
    out = StringIO()
    call_command("extend_synthetic", "--all", "--to-today", stdout=out, stderr=StringIO())
    text = out.getvalue()
    run = SyntheticRun.objects.get(kind="extend")
    assert "Extend to today" in text and re.search(r"patients extended +│ 3 ", text) and str(run.pk) in text
    assert f"purge_synthetic --run {run.pk}" in text
    after = _checkins()

    again = StringIO()
    call_command("extend_synthetic", "--all", "--to-today", "--json", stdout=again, stderr=StringIO())

    document = json.loads(again.getvalue())
    assert document["run"] is None and document["up_to_date"] == 3 and document["patients_extended"] == 0
    assert document["today"] == timezone.localdate().isoformat()
    assert _checkins() == after and SyntheticRun.objects.filter(kind="extend").count() == 1
    # --run names a generate run's patients, or the patients an extend run extended.
    for run_id in (report.run_id, run.pk):
        quiet = StringIO()
        call_command("extend_synthetic", "--run", str(run_id), "--to-today", stdout=quiet, stderr=StringIO())
        assert "nothing to add" in quiet.getvalue() and re.search(
            r"already up to date +│ 3 ", quiet.getvalue()
        )


def test_to_today_through_manage_py_exits_0_and_the_run_is_purgeable(supabase_tables_cleanup):
    report = _generate(patients=2)
    before = _checkins()
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"])}

    result = manage("extend_synthetic", "--run", str(report.run_id), "--to-today", "--json", env=env)

    document = json.loads(result.stdout)
    assert document["patients_extended"] == 2 and document["run"]["status"] == "succeeded"
    added = _checkins() - before
    assert len(added) == document["run"]["checkins_created"] > 0
    assert CheckinAddition.objects.filter(run_id=document["run"]["run_id"]).count() == 2
    manage("purge_synthetic", "--run", document["run"]["run_id"], "--yes", env=env)
    assert _checkins() == before


def test_days_before_the_first_checkin(supabase_tables_cleanup):
    report = _generate(patients=2)
    out = StringIO()
    call_command(
        "extend_synthetic", "--run", str(report.run_id), "--days", "5", "--pattern", "manic", stdout=out
    )
    run = SyntheticRun.objects.get(kind="extend")
    assert "Add check-in days" in out.getvalue() and run.parameters["pattern"] == "manic"
    first = dt.date.fromisoformat(report.parameters["end_date"]) - dt.timedelta(days=29)
    for addition in CheckinAddition.objects.filter(run=run):
        assert addition.ground_truth["end"] < first.isoformat()
