"""synthetic_users_purge: deletes synthetic users of synthadmin runs, never anyone else; idempotent."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import connection

from profiles.models import Profile
from synthadmin.auth import NewAuthUser, get_gateway
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import insert_real_user, snapshot_real_rows

END = dt.date(2026, 6, 30)


def _run(**kwargs):
    request = GenerationRequest(**{"seed": 31, "end_date": END, "checkin_days": 12, **kwargs})
    return population_generate(request=request, started_by=Starter("os:tester"))


def _q(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def test_purge_one_run_leaves_the_other_and_real_users(real_population):
    first = _run(patients=3, therapists=1)
    second = _run(patients=2)
    before_second = _q(
        "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id=c.user_id WHERE s.run_id=%s",
        [second.run_id],
    )

    dry = synthetic_users_purge(run=first.run_id, dry_run=True)
    assert (dry.users_deleted, dry.patients_deleted, dry.therapists_deleted) == (4, 3, 1)
    assert dry.checkins_deleted == first.checkins_created
    assert synthetic_counts()["auth_users"] == 6  # a dry run deletes nothing

    report = synthetic_users_purge(run=first.run_id)
    assert (report.users_deleted, report.checkins_deleted) == (4, first.checkins_created)
    assert report.runs == [str(first.run_id)]
    counts = synthetic_counts()
    assert counts["patients"] == 2 and counts["therapists"] == 0 and counts["auth_users"] == 2
    assert (
        _q(
            "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id=c.user_id WHERE s.run_id=%s",
            [second.run_id],
        )
        == before_second
    )
    assert SyntheticRun.objects.get(pk=first.run_id).purged_at is not None
    assert SyntheticRun.objects.get(pk=second.run_id).purged_at is None
    assert set(SyntheticUser.objects.filter(run_id=first.run_id).values_list("state", flat=True)) == {
        "purged"
    }

    again = synthetic_users_purge(run=first.run_id)
    assert again.users_deleted == 0  # idempotent
    assert_invariants(real_population)


def test_purge_all_and_selected_users_never_delete_real_ones(real_population):
    _run(patients=3)
    real_ids = list(Profile.objects.real().values_list("id", flat=True))
    synthetic_ids = list(Profile.objects.synthetic().values_list("id", flat=True))

    selected = synthetic_users_purge(user_ids=[*real_ids, synthetic_ids[0]])
    assert selected.users_deleted == 1
    assert set(selected.skipped_real) == set(
        Profile.objects.filter(id__in=real_ids).values_list("email", flat=True)
    )
    assert synthetic_counts()["patients"] == 2

    everything = synthetic_users_purge()
    assert everything.users_deleted == 2
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def test_a_synthetic_profile_unflagged_by_hand_is_never_deleted(real_population):
    _run(patients=2)
    kept = Profile.objects.synthetic().first()
    assert kept is not None
    Profile.objects.filter(id=kept.id).update(is_test_patient=False)  # someone made it "real"
    real = snapshot_real_rows()

    report = synthetic_users_purge()
    assert report.users_deleted == 1
    assert len(report.left_alone) == 1 and report.left_alone[0].startswith(f"{kept.email}: ")
    assert "is_test_patient is not true" in report.left_alone[0]
    assert Profile.objects.filter(id=kept.id).exists()
    assert snapshot_real_rows() == real


def test_a_synthetic_therapist_followed_by_a_real_patient_stays(real_population):
    report = _run(patients=1, therapists=1)
    therapist = Profile.objects.synthetic().get(role="therapist")
    insert_real_user(therapist_id=therapist.id, email="real-patient-of-synthetic@example.org")
    real = snapshot_real_rows()

    purge = synthetic_users_purge(run=report.run_id)
    assert purge.users_deleted == 1
    assert purge.left_alone == [
        f"{therapist.email}: public.therapist_patients (1 row(s) that the delete would take also belong to a "
        "real user)"
    ]
    assert Profile.objects.filter(id=therapist.id).exists()
    assert snapshot_real_rows() == real


def test_purge_finishes_intents_left_by_a_crash(real_population):
    # A run that died between the Auth call and the database write: intent + Auth user, no profile.
    run = SyntheticRun.objects.create(started_by="os:tester", seed=1, auth_backend="local")
    gateway = get_gateway()
    crashed = SyntheticUser.objects.create(
        run=run, user_id=uuid.uuid4(), email="crashed.x.1@example.com", role="patient"
    )
    gateway.create_user(
        NewAuthUser(
            id=crashed.user_id,
            email=crashed.email,
            password="x" * 43,
            user_metadata={},
            app_metadata={APP_METADATA_KEY: {"synthetic": True, "run_id": str(run.id), "intent": crashed.pk}},
        )
    )
    # A second intent whose Auth call never happened, and a third whose id a real user owns.
    never = SyntheticUser.objects.create(
        run=run, user_id=uuid.uuid4(), email="never.x.2@example.com", role="patient"
    )
    owner = insert_real_user(email="owns-the-id@example.org")
    foreign = SyntheticUser.objects.create(
        run=run, user_id=owner, email="foreign.x.3@example.com", role="patient"
    )
    real = snapshot_real_rows()

    report = synthetic_users_purge(run=run.id)

    assert report.users_deleted == 1
    assert report.intents_resolved == 2  # the one never created, the one a real user owns
    assert _q("SELECT count(*) FROM auth.users WHERE id = %s", [crashed.user_id]) == [(0,)]
    assert SyntheticUser.objects.get(pk=crashed.pk).state == "purged"
    assert SyntheticUser.objects.get(pk=never.pk).state == "purged"
    assert SyntheticUser.objects.get(pk=foreign.pk).state == "failed"
    assert report.skipped_real == []
    assert _q("SELECT count(*) FROM auth.users WHERE id = %s", [owner]) == [(1,)]
    assert snapshot_real_rows() == real
