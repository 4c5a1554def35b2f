"""Both admin confirmation pages (the "Delete selected synthetic users" action and a run's "Purge
this run") name, before anyone confirms, every synthetic user the purge will leave in place and
why; after confirming, the result messages name them again, and nothing of them was deleted."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.realdata import insert_real_user, snapshot_real_rows

HOLD = "public.therapist_patients (1 row(s) that the delete would take also belong to a real user)"


def _therapist_with_a_real_patient():
    report = population_generate(
        request=GenerationRequest(
            patients=2, therapists=1, checkin_days=3, seed=8, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:tester"),
    )
    therapist = Profile.objects.synthetic().get(role="therapist")
    real = insert_real_user(therapist_id=therapist.id, email="real.patient@example.org")
    return report, therapist, real


def test_delete_action_confirmation_names_the_user_left_in_place(live_shape, admin_client):
    _report, therapist, real = _therapist_with_a_real_patient()
    ids = [str(p) for p in Profile.objects.values_list("id", flat=True)]
    url = reverse("admin:profiles_profile_changelist")
    before = snapshot_real_rows()

    page = admin_client.post(url, {"action": "delete_synthetic_users", ACTION_CHECKBOX_NAME: ids})

    text = page.content.decode()
    assert page.status_code == 200 and 'id="purge-left-alone"' in text
    assert f"{therapist.email}: {HOLD}" in text
    assert "real.patient@example.org" in text  # the real profile in the selection, named too
    assert Profile.objects.filter(id=therapist.id).exists()  # nothing deleted yet

    done = admin_client.post(
        url, {"action": "delete_synthetic_users", ACTION_CHECKBOX_NAME: ids, "post": "yes"}, follow=True
    )
    shown = [str(m) for m in done.context["messages"]]
    assert any(therapist.email in m and "Left in place" in m for m in shown)
    assert Profile.objects.filter(id=therapist.id, is_test_patient=True).exists()
    assert Profile.objects.synthetic().filter(role="patient").count() == 0
    assert snapshot_real_rows() == before and Profile.objects.filter(id=real).exists()


def test_run_purge_confirmation_names_the_user_left_in_place(live_shape, admin_client):
    report, therapist, _real = _therapist_with_a_real_patient()
    url = reverse("admin:synthadmin_syntheticrun_purge", args=[report.run_id])
    before = snapshot_real_rows()

    page = admin_client.get(url)

    assert page.status_code == 200 and f"{therapist.email}: {HOLD}" in page.content.decode()
    done = admin_client.post(url, follow=True)
    assert any(therapist.email in str(m) and "Left in place" in str(m) for m in done.context["messages"])
    assert Profile.objects.filter(id=therapist.id, is_test_patient=True).exists()
    assert snapshot_real_rows() == before
