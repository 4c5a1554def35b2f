"""The generate form takes a pattern mix; a bad mix is refused next to the field, nothing written."""

from __future__ import annotations

from django.urls import reverse

from synthadmin.models import SyntheticRun
from tests.invariants import synthetic_counts

GENERATE = "admin:profiles_profile_generate"


def _form(**overrides: str) -> dict[str, str]:
    return {"patients": "3", "therapists": "1", "checkin_days": "3", "pattern": "stable", **overrides}


def test_a_mix_gives_each_pattern_its_count(admin_client, supabase_tables_cleanup):
    response = admin_client.post(reverse(GENERATE), _form(mix="stable=2,cycling=1"))
    assert response.status_code == 302
    run = SyntheticRun.objects.get()
    assert run.parameters["mix"] == {"stable": 2, "cycling": 1}
    assert synthetic_counts()["patients"] == 3


def test_a_bad_mix_is_refused_next_to_the_field(admin_client, supabase_tables_cleanup):
    response = admin_client.post(reverse(GENERATE), _form(mix="stable=2,zigzag=1"))
    assert response.status_code == 200
    assert "unknown pattern 'zigzag'" in " ".join(response.context["form"].errors["mix"])
    assert not SyntheticRun.objects.exists() and synthetic_counts()["auth_users"] == 0


def test_too_many_points_to_the_command_only_when_the_command_can(admin_client, settings):
    """Beyond the run maximum the command refuses too: no hint to use it, nothing written."""
    beyond = admin_client.post(reverse(GENERATE), _form(patients="20000"))
    (error,) = beyond.context["form"].non_field_errors()
    assert "manage.py" not in error and "make several runs" in error
    settings.SYNTHADMIN_ADMIN_MAX_PATIENTS = 100
    page = admin_client.get(reverse(GENERATE)).content.decode()
    assert "At most 100 patients per run here" in " ".join(page.split())
    within = admin_client.post(reverse(GENERATE), _form(patients="200"))
    (error,) = within.context["form"].non_field_errors()
    assert "python manage.py generate_synthetic --patients 200 --therapists 1" in error
    assert not SyntheticRun.objects.exists()
