"""An "Add check-in days" run records exactly what it added; purging it removes exactly that."""

from __future__ import annotations

from django.db import connection

from profiles.models import Profile
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.services.additions import dates_of
from synthadmin.services.additions_purge import checkin_additions_remove
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.ledger import Starter
from tests.realdata import insert_real_user
from tests.story.conftest import generate


def _checkins() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, user_id, checkin_date, mood_data::text FROM public.check_ins")
        return set(cursor.fetchall())


def test_purging_an_extend_run_removes_exactly_its_checkins(supabase_tables_cleanup):
    generate(patients=3, days=40)
    real = insert_real_user(checkins=5)
    patients = list(Profile.objects.synthetic().values_list("id", flat=True))
    before = _checkins()
    counts_before = dict(SyntheticUser.objects.values_list("user_id", "checkins"))

    first, _ = checkins_backfill(
        patient_ids=[*patients, real], days=30, pattern="depressive", started_by=Starter("os:t")
    )
    assert first is not None
    after_first = _checkins()
    second, _ = checkins_backfill(
        patient_ids=patients[:1], days=10, pattern="manic", started_by=Starter("os:t")
    )
    assert second is not None
    after_second = _checkins()

    added = after_first - before
    assert len(added) == first.checkins_created > 0
    records = CheckinAddition.objects.filter(run_id=first.run_id)
    assert {r.user_id for r in records} == set(patients)
    recorded = {(r.user_id, d) for r in records for d in dates_of(r.days)}
    assert recorded == {(user, day) for _, user, day, _ in added}
    assert sum(r.checkins for r in records) == first.checkins_created

    removal = checkin_additions_remove(run=first.run_id)

    assert removal.checkins_deleted == first.checkins_created and removal.patients == 3
    assert _checkins() == after_second - added  # the first run's days gone, the second's kept
    assert all(r.removed_at is not None for r in CheckinAddition.objects.filter(run_id=first.run_id))
    counts = dict(SyntheticUser.objects.values_list("user_id", "checkins"))
    second_added = CheckinAddition.objects.get(run_id=second.run_id)
    for user in patients:
        extra = second_added.checkins if user == second_added.user_id else 0
        assert counts[user] == counts_before[user] + extra
    assert checkin_additions_remove(run=first.run_id).checkins_deleted == 0  # idempotent


def test_dry_run_counts_and_deletes_nothing(supabase_tables_cleanup):
    generate(patients=1, days=20)
    report, _ = checkins_backfill(
        patient_ids=Profile.objects.synthetic().values_list("id", flat=True),
        days=15,
        pattern="stable",
        started_by=Starter("os:t"),
    )
    assert report is not None
    before = _checkins()
    preview = checkin_additions_remove(run=report.run_id, dry_run=True)
    assert preview.checkins_deleted == report.checkins_created and _checkins() == before


def test_a_profile_set_back_to_real_keeps_its_added_days(supabase_tables_cleanup):
    generate(patients=1, days=20)
    patient = Profile.objects.synthetic().get()
    report, _ = checkins_backfill(
        patient_ids=[patient.pk], days=15, pattern="stable", started_by=Starter("os:t")
    )
    assert report is not None
    Profile.objects.filter(pk=patient.pk).update(is_test_patient=False)
    before = _checkins()
    removal = checkin_additions_remove(run=report.run_id)
    assert removal.checkins_deleted == 0 and removal.left_alone and _checkins() == before


def test_a_generate_run_is_not_an_extend_run(supabase_tables_cleanup):
    report = generate(patients=1, days=10)
    before = _checkins()
    assert checkin_additions_remove(run=report.run_id).checkins_deleted == 0 and _checkins() == before


def test_extending_only_real_patients_writes_no_run(supabase_tables_cleanup):
    real = insert_real_user(checkins=3)
    before = _checkins()
    report, refusals = checkins_backfill(
        patient_ids=[real], days=10, pattern="stable", started_by=Starter("os:t")
    )
    assert report is None and len(refusals) == 1 and "real patient" in refusals[0].reason
    assert SyntheticRun.objects.count() == 0 and _checkins() == before


def test_purge_this_run_on_an_extend_run_removes_what_it_added(supabase_tables_cleanup):
    from synthadmin.services.purge import synthetic_users_purge

    generate(patients=2, days=20)
    before = _checkins()
    report, _ = checkins_backfill(
        patient_ids=Profile.objects.synthetic().values_list("id", flat=True),
        days=12,
        pattern="cycling",
        started_by=Starter("os:t"),
    )
    assert report is not None
    preview = synthetic_users_purge(run=report.run_id, dry_run=True)
    assert preview.checkins_deleted == report.checkins_created

    purge = synthetic_users_purge(run=report.run_id)

    assert purge.checkins_deleted == report.checkins_created > 0
    assert _checkins() == before
    assert SyntheticRun.objects.get(pk=report.run_id).purged_at is not None
