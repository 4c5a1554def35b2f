"""The delete action logs what the service did, not what the admin expected (compare Django's
``delete_selected``): a synthetic therapist the service leaves in place is not logged as deleted."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.realdata import insert_real_user

CHANGELIST = "admin:profiles_profile_changelist"


def test_only_the_users_actually_deleted_are_logged(client, staff_all, supabase_tables_cleanup):
    population_generate(
        request=GenerationRequest(
            patients=2, therapists=1, checkin_days=2, seed=1, end_date=dt.date(2026, 6, 1)
        ),
        started_by=Starter("os:tester"),
    )
    therapist = Profile.objects.get(role="therapist", is_test_patient=True)
    insert_real_user(therapist_id=therapist.id, email="real.patient@example.org")
    synthetic = [str(p.id) for p in Profile.objects.synthetic()]
    client.force_login(staff_all)

    response = client.post(
        reverse(CHANGELIST),
        {"action": "delete_synthetic_users", "_selected_action": synthetic, "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    logged = set(LogEntry.objects.filter(action_flag=DELETION).values_list("object_id", flat=True))
    deleted = set(synthetic) - {str(therapist.id)}
    assert logged == deleted and len(deleted) == 2
    assert Profile.objects.filter(id=therapist.id).exists()
    messages = [str(m) for m in response.context["messages"]]
    email = therapist.email
    assert email is not None
    assert any(email in m and "therapist_patients" in m for m in messages)
