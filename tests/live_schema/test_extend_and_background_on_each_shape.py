"""This session's write paths on every shape (live: signup trigger + therapist_patients; early:
profiles.therapist_id; bare: no link): a background run worked chunk by chunk, then extend to
today and the purge of both runs. Real rows stay as they were."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from profiles.models import Profile
from synthadmin.models import SyntheticRun
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.background.test_chunks_in_process import _work_all
from tests.invariants import therapist_links
from tests.realdata import snapshot_real_rows

STARTER = Starter("os:tester")


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.SYNTHADMIN_CHUNK_USERS = 2


def _count(sql: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_background_run_extend_to_today_and_purge(shape, real_rows):
    before = snapshot_real_rows()
    end = timezone.localdate() - dt.timedelta(days=6)
    run = run_enqueue(
        request=GenerationRequest(patients=3, therapists=1, checkin_days=10, seed=4, end_date=end),
        started_by=STARTER,
    )
    _work_all()
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and (run.patients_created, run.therapists_created) == (
        3,
        1,
    )
    therapist = Profile.objects.synthetic().get(role="therapist")
    patients = set(Profile.objects.synthetic().filter(role="patient").values_list("id", flat=True))
    links = therapist_links()
    if shape == "bare":
        assert links == {}
    else:
        assert {p: links[p] for p in patients} == dict.fromkeys(patients, therapist.id)

    generated = _count("SELECT count(*) FROM public.check_ins")
    extension = checkins_extend_to_today(run=run.pk, started_by=STARTER)
    assert extension.report is not None and extension.patients_extended == 3
    assert _count("SELECT max(checkin_date) FROM public.check_ins") <= timezone.localdate()
    dupes = "SELECT count(*) FROM (SELECT 1 FROM public.check_ins GROUP BY user_id, checkin_date HAVING count(*) > 1) d"
    assert _count(dupes) == 0

    synthetic_users_purge(run=extension.report.run_id)
    assert _count("SELECT count(*) FROM public.check_ins") == generated  # exactly the added days went
    synthetic_users_purge(run=run.pk)
    assert not Profile.objects.synthetic().exists()
    assert SyntheticRun.objects.get(pk=extension.report.run_id).purged_at is not None
    assert snapshot_real_rows() == before
