"""The Profiles and Check-ins admin pages work on every shape; the therapist comes from whichever
link the database has."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import therapist_links


def test_changelists_and_change_pages_render(shape, admin_client):
    population_generate(
        request=GenerationRequest(
            patients=2, therapists=1, checkin_days=3, seed=2, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:tester"),
    )
    therapist = Profile.objects.get(role="therapist")
    patient = Profile.objects.filter(role="patient").first()
    assert patient is not None

    changelist = admin_client.get(reverse("admin:profiles_profile_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(reverse("admin:profiles_profile_change", args=[patient.id]))
    assert change.status_code == 200
    shown = {p.email: getattr(p, "_therapist_email", None) for p in changelist.context["cl"].result_list}
    if therapist_links():
        assert shown == {
            therapist.email: None,
            **{p.email: therapist.email for p in Profile.objects.filter(role="patient")},
        }
        assert therapist.email is not None and therapist.email.encode() in change.content
    else:
        assert set(shown.values()) == {None}
    assert admin_client.get(reverse("admin:checkins_checkin_changelist")).status_code == 200
