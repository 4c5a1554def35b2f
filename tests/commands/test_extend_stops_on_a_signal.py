"""A signal stops ``extend_synthetic`` between batches (real subprocesses, real PostgreSQL).

SIGTERM, SIGHUP and Ctrl-C each end an addition of days the way a purge or Cancel does: the
batch being written is finished, no new batch starts, the run is ``aborted`` with the exact
counts its records hold, and the closing line names the real run id. ``--days`` is not
idempotent, so the line never advises running it again as is: it says to purge the run first,
and doing just that, then the same command, gives every patient the days exactly once.

Failpoints deliver the signal right after the first batch is committed (``additions_after_batch``)
and wait for it to be seen, so the outcome does not depend on the machine's load."""

from __future__ import annotations

import datetime as dt
import signal
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ENV
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from tests.dbutil import manage
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, run_ended_days_ago, start_manage, test_database_env

PATIENTS = 12
BATCH = 4
HISTORY = 3  # days each patient was generated with (adherence 1: one check-in a day)
DAYS = 20  # days --days adds (its check-ins at the default adherence); --to-today as many days


@pytest.fixture
def generated(real_population) -> SyntheticRun:
    return run_ended_days_ago(PATIENTS, DAYS, checkin_days=HISTORY, seed=7)


def _checkins_per_patient(run: SyntheticRun) -> Counter:
    """Check-ins per patient of ``run`` (a generation: its users; an addition: those it reached)."""
    users = (
        CheckinAddition.objects.filter(run=run)
        if run.kind == "extend"
        else SyntheticUser.objects.filter(run=run)
    )
    ids = [str(u) for u in users.values_list("user_id", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id::text, count(*) FROM public.check_ins WHERE user_id::text = ANY(%s) GROUP BY 1",
            [ids],
        )
        return Counter(dict(cursor.fetchall()))


def _extend_stopped(run: SyntheticRun, mode: tuple[str, ...], signum: signal.Signals):
    env = test_database_env(
        {ENV: f"{ADDITIONS_AFTER_BATCH}:{signum.name}", "SYNTHADMIN_BATCH_USERS": str(BATCH)}
    )
    process = start_manage("extend_synthetic", *mode, "--run", str(run.pk), env=env)
    _out, err = finish(process)
    (line,) = [each for each in err.splitlines() if each.startswith("CommandError:")]
    return process.returncode, err, line, SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)


def _assert_stopped_after_one_batch(extension: SyntheticRun, line: str, name: str) -> None:
    assert extension.status == "aborted", extension.error_summary
    assert extension.error_summary == (
        "interrupted on request; the batch being written was finished first, each patient's days whole"
    )
    records = CheckinAddition.objects.filter(run=extension)
    assert records.count() == BATCH  # the first batch only: the stop was seen before the second
    added = extension.checkins_created
    assert added == records.aggregate(n=Sum("checkins"))["n"] > 0
    assert added == sum(_checkins_per_patient(extension).values()) - BATCH * HISTORY
    assert line.startswith(f"CommandError: stopped by {name} between batches: ")
    assert f"{BATCH} of {PATIENTS} patients got their days whole ({added} check-ins)" in line
    assert f"run {extension.pk} is aborted" in line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_add_days_between_batches_and_says_how_to_finish(real_population, generated, signum):
    code, err, line, extension = _extend_stopped(generated, ("--days", str(DAYS)), signum)

    assert code == 128 + signum, err
    assert "Traceback" not in err
    _assert_stopped_after_one_batch(extension, line, signum.name)
    counts = _checkins_per_patient(generated)
    assert sorted(counts.values())[: PATIENTS - BATCH] == [HISTORY] * (PATIENTS - BATCH)  # not reached
    # Never "run --days again" as the way to finish: purge this run (its real id), then again.
    assert "Do not run --days again as is" in line
    assert f"purge_synthetic --run {extension.pk} (removes exactly the days this run added)" in line
    assert " ID " not in line and "ID)" not in line
    assert_invariants(real_population)


def test_following_the_advice_gives_every_patient_the_days_exactly_once(real_population, generated):
    _code, _err, _line, extension = _extend_stopped(generated, ("--days", str(DAYS)), signal.SIGTERM)

    env = test_database_env()
    manage("purge_synthetic", "--run", str(extension.pk), "--yes", env=env)
    assert sorted(_checkins_per_patient(generated).values()) == [HISTORY] * PATIENTS
    manage("extend_synthetic", "--days", str(DAYS), "--run", str(generated.pk), env=env)

    # Each patient got the days once: one addition in place, its check-ins all of those added,
    # none earlier than DAYS days before the generated history.
    first_generated = timezone.localdate() - dt.timedelta(days=DAYS + HISTORY - 1)
    in_place = CheckinAddition.objects.filter(removed_at__isnull=True)
    assert Counter(in_place.values_list("user_id", flat=True)) == Counter(
        {
            user_id: 1
            for user_id in SyntheticUser.objects.filter(run=generated).values_list("user_id", flat=True)
        }
    )
    counts = _checkins_per_patient(generated)
    for user_id, added in in_place.values_list("user_id", "checkins"):
        assert counts[str(user_id)] == HISTORY + added
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(checkin_date) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser u "
            "ON u.user_id = c.user_id WHERE u.run_id = %s",
            [generated.pk],
        )
        assert cursor.fetchone()[0] >= first_generated - dt.timedelta(days=DAYS)
    assert_invariants(real_population)


def test_a_signal_stops_extend_to_today_between_batches(real_population, generated):
    code, err, line, extension = _extend_stopped(generated, ("--to-today",), signal.SIGTERM)

    assert code == 143, err
    _assert_stopped_after_one_batch(extension, line, "SIGTERM")
    assert "Run the same command again to finish: --to-today adds only the days still missing" in line
    # As it says: the same command again finishes, and adds nothing to those already reached.
    manage("extend_synthetic", "--to-today", "--run", str(generated.pk), env=test_database_env())
    assert sorted(_checkins_per_patient(generated).values()) == [HISTORY + DAYS] * PATIENTS
    assert_invariants(real_population)
