"""Refusals inside the admin: the 403 page is drawn in the admin's frame and names the
permission missing; ``view_scenario`` alone lets staff read the scenarios."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from synthadmin.models import Scenario, SyntheticRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(db):
    return SyntheticRun.objects.create(started_by="os:x", seed=1, auth_backend="local", status="succeeded")


def _refusal(response) -> str:
    assert response.status_code == 403
    page = response.content.decode()
    assert 'id="permission-missing"' in page
    assert "synthadmin — synthetic test patients" in page  # the admin's header: its frame
    assert 'class="breadcrumbs"' in page
    return page


def test_generate_page_names_the_generate_permission(client, staff_plain):
    client.force_login(staff_plain)
    page = _refusal(client.get(reverse("admin:profiles_profile_generate")))
    assert "Can generate synthetic data (synthadmin.generate_synthetic_data)" in page


def test_purge_and_download_name_their_permissions(client, staff_generator, run):
    client.force_login(staff_generator)
    purge = _refusal(client.post(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])))
    assert "Can purge synthetic data (synthadmin.purge_synthetic_data)" in purge
    download = _refusal(client.get(reverse("admin:synthadmin_syntheticrun_download", args=[run.pk, "csv"])))
    assert "Can export synthetic data (synthadmin.export_synthetic_data)" in download
    assert SyntheticRun.objects.get(pk=run.pk).purged_at is None


def test_django_own_view_names_the_model_permission(client, staff_plain):
    """A list the user may not view (Django's own view raises a bare PermissionDenied)."""
    client.force_login(staff_plain)
    page = _refusal(client.get(reverse("admin:synthadmin_scenario_changelist")))
    assert "synthadmin.view_scenario" in page and "Can view scenario" in page


def test_view_scenario_alone_shows_the_scenarios(client, staff_plain):
    Scenario.objects.get_or_create(name="viewer-sees-me", defaults={"patients": 1})
    staff_plain.user_permissions.add(Permission.objects.get(codename="view_scenario"))
    client.force_login(staff_plain)
    listing = client.get(reverse("admin:synthadmin_scenario_changelist"))
    assert listing.status_code == 200
    assert b"viewer-sees-me" in listing.content
    assert listing.context["action_form"] is None or not [
        v for v, _ in listing.context["action_form"].fields["action"].choices if v
    ]
    scenario = Scenario.objects.get(name="viewer-sees-me")
    page = client.get(reverse("admin:synthadmin_scenario_change", args=[scenario.pk]))
    assert page.status_code == 200 and b"viewer-sees-me" in page.content
    assert b'name="_save"' not in page.content  # read only
    assert client.get(reverse("admin:synthadmin_scenario_add")).status_code == 403


def test_anonymous_and_non_admin_pages_keep_django_default(client):
    assert client.get(reverse("admin:profiles_profile_generate")).status_code == 302  # to the login
