"""A purge while another process adds check-in days (``extend_synthetic --to-today`` or
``--days N``, real subprocesses): the purge finds the addition in progress — its own ``extend``
run, started for the purged run's patients, or the purged run itself — and asks it to stop
through the database (the cancel flag ``run_watch.CancelWatch`` reads, as for a generation);
the extending process finishes the batch it is writing, stops, records its run ``aborted`` with
exact counts and ends with one line, "stopped: purged by …" (exit 3); then the purge removes
everything it names and records it purged. Real rows stay byte-identical.

The addition is held after its first batch (a pause failpoint), so the purge always meets it in
progress, and it stops exactly there: one whole batch written, whatever else the machine runs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Sum

from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ENV, PAUSE
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from tests.dbutil import manage
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, run_ended_days_ago, start_manage, test_database_env, wait_for

#: Three batches: the addition is held after the first, the purge arrives, the other two never start.
PATIENTS = 12
BATCH = 4
#: Days each patient gets.
DAYS = 5
MODES = {"to today": ("--to-today",), "add days": ("--days", str(DAYS))}


def _count(query: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _checkins_of(user_ids: list[str]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, checkin_date, sleep_data::text, mood_data::text, symptoms_data::text "
            "FROM public.check_ins WHERE user_id::text = ANY(%s) ORDER BY user_id, checkin_date",
            [user_ids],
        )
        return cursor.fetchall()


@pytest.fixture
def generated(real_population) -> SyntheticRun:
    """A generate run of ``PATIENTS`` patients whose histories ended ``DAYS`` days ago."""
    return run_ended_days_ago(PATIENTS, DAYS, checkin_days=3, seed=21)


def _extending(mode: str, run: SyntheticRun):
    """``extend_synthetic`` for ``run``'s patients in a subprocess, once its first batch is
    committed and it is held there (in progress); the process and its ``extend`` run."""
    env = test_database_env({"SYNTHADMIN_BATCH_USERS": str(BATCH), ENV: f"{ADDITIONS_AFTER_BATCH}:{PAUSE}"})
    process = start_manage("extend_synthetic", *MODES[mode], "--run", str(run.pk), env=env)
    additions = CheckinAddition.objects.filter(run__kind=SyntheticRun.Kind.EXTEND)
    wait_for(lambda: additions.count() >= BATCH, process, timeout=60)
    return process, SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)


def _assert_stopped_by_the_purge(process, err: str, extension: SyntheticRun, mode: str) -> None:
    """The extending process ended with one line and exit 3; its run is aborted part way, with
    the counts its records hold; the line says how to finish for any patient the purge leaves
    (never --days again as is: that would add the days twice to those reached)."""
    assert process.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith("CommandError: stopped: purged by purge_synthetic (os:"), line
    extension.refresh_from_db()
    assert extension.status == "aborted", extension.error_summary
    assert extension.error_summary.startswith("cancelled by purge_synthetic (os:")
    assert extension.cancel_requested_by.startswith("purge_synthetic (os:") and extension.cancel_for_purge
    records = CheckinAddition.objects.filter(run=extension)
    assert records.count() == BATCH < PATIENTS  # stopped part way, where it was held: one whole batch
    assert extension.checkins_created == records.aggregate(n=Sum("checkins"))["n"]
    reached = f"{records.count()} of {PATIENTS} patients got their days whole"
    assert f"{reached} ({extension.checkins_created:,} check-ins)" in line
    assert "patients not reached" not in line
    if mode == "add days":
        assert f"purge_synthetic --run {extension.pk} (removes exactly the days this run added)" in line
    else:
        assert "run the same command again to finish: --to-today adds only the days still missing" in line


@pytest.mark.parametrize("mode", MODES)
def test_purging_the_run_stops_the_addition_of_days_to_its_patients_first(real_population, generated, mode):
    extending, extension = _extending(mode, generated)
    try:
        purge = manage(
            "purge_synthetic", "--run", str(generated.pk), "--yes", env=test_database_env(), check=False
        )
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    assert purge.returncode == 0, purge.stderr
    _assert_stopped_by_the_purge(extending, err, extension, mode)
    ids = [str(u) for u in SyntheticUser.objects.filter(run=generated).values_list("user_id", flat=True)]
    assert len(ids) == PATIENTS
    assert _count("SELECT count(*) FROM auth.users WHERE id::text = ANY(%s)", [ids]) == 0
    assert _count("SELECT count(*) FROM public.profiles WHERE id::text = ANY(%s)", [ids]) == 0
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id::text = ANY(%s)", [ids]) == 0
    assert set(SyntheticUser.objects.filter(run=generated).values_list("state", flat=True)) == {"purged"}
    assert not CheckinAddition.objects.filter(run=extension, removed_at__isnull=True).exists()
    generated.refresh_from_db()
    extension.refresh_from_db()
    assert generated.purged_at is not None and extension.purged_at is not None
    assert_invariants(real_population)


@pytest.mark.parametrize("mode", MODES)
def test_purging_the_addition_itself_stops_it_then_removes_its_days(real_population, generated, mode):
    ids = [str(u) for u in SyntheticUser.objects.filter(run=generated).values_list("user_id", flat=True)]
    before = _checkins_of(ids)
    extending, extension = _extending(mode, generated)
    try:
        purge = manage(
            "purge_synthetic", "--run", str(extension.pk), "--yes", env=test_database_env(), check=False
        )
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    assert purge.returncode == 0, purge.stderr
    _assert_stopped_by_the_purge(extending, err, extension, mode)
    # Every day it added is gone, the generated ones are as they were, the ledger counts agree.
    assert _checkins_of(ids) == before
    assert not CheckinAddition.objects.filter(run=extension, removed_at__isnull=True).exists()
    extension.refresh_from_db()
    assert extension.purged_at is not None
    assert_invariants(real_population)
