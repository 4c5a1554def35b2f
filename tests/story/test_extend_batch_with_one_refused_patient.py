"""Adding days goes in batches, one transaction each. When the database refuses one patient's
rows (here a trigger on ``check_ins`` that raises for that patient), the batch is rolled back and
its patients written one at a time: that patient is reported failed with nothing written, every
other patient gets all its days, its record and its ledger count — to today and before the
first check-in alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from profiles.models import Profile
from synthadmin.models import CheckinAddition
from synthadmin.services.additions import patients_selected
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants

PATIENTS = 5
STARTER = Starter("os:tester")


@pytest.fixture
def one_refused(real_population, settings):
    """Five synthetic patients (history ended 3 days ago), batches of 3, and a trigger that
    refuses new check-ins of the second patient by e-mail; yields the run and that profile."""
    settings.SYNTHADMIN_BATCH_USERS = 3
    end = timezone.localdate() - dt.timedelta(days=3)
    request = GenerationRequest(patients=PATIENTS, checkin_days=3, seed=4, end_date=end, adherence=1.0)
    run = population_generate(request=request, started_by=STARTER)
    refused = Profile.objects.synthetic().order_by("email")[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION public.synthadmin_test_refuse_checkin() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'no new check-ins for this patient'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_refuse BEFORE INSERT ON public.check_ins FOR EACH ROW "
            f"WHEN (NEW.user_id = '{refused.id}'::uuid) EXECUTE FUNCTION public.synthadmin_test_refuse_checkin()"
        )
    yield run, refused
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS synthadmin_test_refuse ON public.check_ins")
        cursor.execute("DROP FUNCTION IF EXISTS public.synthadmin_test_refuse_checkin()")


def _assert_only_the_refused_one_failed(report, refused, real_population) -> None:
    assert [f.email for f in report.failures] == [refused.email]
    assert "no new check-ins" in report.failures[0].reason
    assert report.status == "partial"
    additions = CheckinAddition.objects.filter(run_id=report.run_id)
    assert additions.count() == PATIENTS - 1 and not additions.filter(user_id=refused.id).exists()
    assert_invariants(real_population)  # ledger counts equal the rows: nothing half written


def test_extend_to_today_writes_every_patient_but_the_refused_one(one_refused, real_population):
    run, refused = one_refused

    result = checkins_extend_to_today(run=run.run_id, started_by=STARTER)
    assert result.report is not None

    assert result.patients_extended == PATIENTS - 1
    assert result.report.checkins_created == 3 * (PATIENTS - 1)
    _assert_only_the_refused_one_failed(result.report, refused, real_population)


def test_add_checkin_days_writes_every_patient_but_the_refused_one(one_refused, real_population):
    run, refused = one_refused
    ids = patients_selected(patient_ids=None, run=run.run_id, all_patients=False)

    report, refusals = checkins_backfill(
        patient_ids=ids, days=4, pattern="stable", started_by=STARTER, seed=1
    )
    assert report is not None

    assert refusals == []
    assert report.checkins_created > 0
    _assert_only_the_refused_one_failed(report, refused, real_population)
