"""kill -9 at each batch boundary of adding days — extend to today, "Add check-in days", and
purging such a run — then purge: the run's days are gone, every other check-in is
byte-identical, the ledger counts agree with the rows.

Real ``manage.py`` subprocesses, batches of 3 patients (7 patients: 3 batches), killed with
SIGKILL inside a batch's transaction (its COPY done: rolled back, nothing of the batch stays)
or after a batch committed (its patients keep all their days and records, the others none).
"""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from django.db import connection
from django.utils import timezone

from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ADDITIONS_BATCH_COPIED, ENV, PURGE_ADDITIONS_BATCH
from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import database_url, manage
from tests.invariants import assert_invariants, synthetic_counts

BATCH = 3
PATIENTS = 7
MODES = {"to today": ("--to-today",), "add days": ("--days", "2")}


def _checkins() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, checkin_date, sleep_data::text, mood_data::text, symptoms_data::text, "
            "risk_routine_data::text, appetite_impulse_data::text, meds_context_data::text "
            "FROM public.check_ins ORDER BY user_id, checkin_date"
        )
        return cursor.fetchall()


def _env(failpoint: str | None = None) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "SYNTHADMIN_BATCH_USERS": str(BATCH),
    }
    return {**env, ENV: failpoint} if failpoint else env


def _killed(*args: str, failpoint: str) -> None:
    result = manage(*args, "-v", "0", env=_env(failpoint), check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.fixture
def patients(real_population):
    """Seven synthetic patients whose histories ended five days ago; the check-ins before."""
    end = timezone.localdate() - dt.timedelta(days=5)
    request = GenerationRequest(patients=PATIENTS, checkin_days=4, seed=8, end_date=end, adherence=1.0)
    report = population_generate(request=request, started_by=Starter("os:tester"))
    assert report.status == "succeeded"
    return report, _checkins()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("failpoint", "extended"), [(ADDITIONS_BATCH_COPIED, 0), (ADDITIONS_AFTER_BATCH, BATCH)]
)
def test_adding_days_killed_at_a_batch_boundary_then_purged(
    real_population, patients, mode, failpoint, extended
):
    generated, before = patients

    _killed("extend_synthetic", *MODES[mode], "--all", failpoint=failpoint)

    run = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)
    # A batch went whole or not at all: its patients have their days, their records and counts.
    assert CheckinAddition.objects.filter(run=run).count() == extended
    assert_invariants(real_population)  # every ledger count equals its check-ins, no duplicate

    report = synthetic_users_purge(run=run.id)

    assert report.errors == report.left_alone == []
    assert _checkins() == before  # the added days gone, every other check-in byte-identical
    run.refresh_from_db()
    assert run.status == "interrupted" and run.purged_at is not None
    assert_invariants(real_population)
    synthetic_users_purge(run=generated.run_id)
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def test_purging_added_days_killed_inside_a_batch_is_finished_by_the_next_purge(real_population, patients):
    _generated, before = patients
    manage("extend_synthetic", "--to-today", "--all", "-v", "0", env=_env())
    run = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)
    extended = _checkins()
    assert len(extended) > len(before)

    _killed("purge_synthetic", "--run", str(run.id), "--yes", failpoint=PURGE_ADDITIONS_BATCH)

    assert _checkins() == extended  # the batch's transaction was rolled back: nothing removed
    assert_invariants(real_population)

    report = synthetic_users_purge(run=run.id)

    assert report.checkins_deleted == len(extended) - len(before) and report.errors == []
    assert _checkins() == before
    assert_invariants(real_population)
