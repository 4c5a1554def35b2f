"""Purge computes, from the catalog, what each delete would take along, and leaves alone — named,
with the table and the count — any synthetic user whose delete would remove or change a row that
also belongs to a real user, or that a foreign key without cascade would block."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.invariants import therapist_links
from tests.realdata import insert_real_user, snapshot_real_rows
from tests.shapes import shape_install

END = dt.date(2026, 6, 30)


def _generate(**kwargs):
    return population_generate(
        request=GenerationRequest(checkin_days=3, seed=5, end_date=END, **kwargs),
        started_by=Starter("os:tester"),
    )


def _count(query: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchone()[0]


def test_a_real_patient_of_a_synthetic_therapist_keeps_her_link_and_his_note_about_her(live_shape):
    run = _generate(patients=2, therapists=1)
    therapist = Profile.objects.synthetic().get(role="therapist")
    patient = insert_real_user(therapist_id=therapist.id, email="real.patient@example.org", checkins=3)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO public.clinical_notes (therapist_id, patient_id, note) VALUES (%s, %s, 'first session')",
            [therapist.id, patient],
        )
    real = snapshot_real_rows()

    report = synthetic_users_purge(run=run.run_id)

    assert report.users_deleted == 2 and report.patients_deleted == 2 and report.therapists_deleted == 0
    assert report.left_alone == [
        f"{therapist.email}: public.clinical_notes (1 row(s) that the delete would take also belong to a "
        "real user); public.therapist_patients (1 row(s) that the delete would take also belong to a real user)"
    ]
    assert Profile.objects.filter(id=therapist.id, is_test_patient=True).exists()
    assert therapist_links()[patient] == therapist.id
    assert _count("SELECT count(*) FROM public.clinical_notes WHERE patient_id = %s", [patient]) == 1
    assert snapshot_real_rows() == real


def test_early_shape_a_real_patient_pointing_at_a_synthetic_therapist_keeps_him(transactional_db):
    shape_install("early")
    try:
        run = _generate(patients=1, therapists=1)
        therapist = Profile.objects.synthetic().get(role="therapist")
        patient = insert_real_user(therapist_id=therapist.id, email="real.patient@example.org")
        real = snapshot_real_rows()
        report = synthetic_users_purge(run=run.run_id)
        assert report.users_deleted == 1
        assert report.left_alone == [
            f"{therapist.email}: public.profiles (1 row(s) that the delete would take also belong to a real user)"
        ]
        assert therapist_links()[patient] == therapist.id  # ON DELETE SET NULL never ran
        assert snapshot_real_rows() == real
    finally:
        shape_install("baseline")


def test_a_table_with_a_non_cascading_key_blocks_that_user_only_and_exits_2(live_shape, real_rows):
    run = _generate(patients=3)
    blocked = Profile.objects.synthetic().order_by("email").first()
    assert blocked is not None
    with connection.cursor() as cursor:
        # A table the project added, which synthadmin has never seen: no ON DELETE rule.
        cursor.execute(
            "CREATE TABLE public.prescriptions (id serial PRIMARY KEY, "
            "patient_id uuid NOT NULL REFERENCES public.profiles (id), drug text)"
        )
        cursor.execute(
            "INSERT INTO public.prescriptions (patient_id, drug) VALUES (%s, 'lithium')", [blocked.id]
        )
    try:
        with pytest.raises(CommandError) as info:
            call_command("purge_synthetic", "--run", str(run.run_id), "--yes", stdout=_Sink(), stderr=_Sink())
        assert info.value.returncode == 2
        assert f"{blocked.email}: blocked by public.prescriptions (1 row(s)" in str(info.value)
        assert list(Profile.objects.synthetic().values_list("id", flat=True)) == [blocked.id]
        assert _count("SELECT count(*) FROM public.prescriptions") == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE public.prescriptions")
    # Once the row is gone, the same purge finishes.
    report = synthetic_users_purge(run=run.run_id)
    assert report.users_deleted == 1 and report.blocked == []
    assert snapshot_real_rows() == real_rows


class _Sink:
    def write(self, *_args, **_kwargs) -> None:
        pass

    def flush(self) -> None:
        pass
