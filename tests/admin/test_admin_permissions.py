"""Who sees and may use the synthetic-data tools: superuser, staff with/without the permissions, anonymous."""

from __future__ import annotations

import pytest
from django.urls import reverse

from synthadmin.models import SyntheticRun

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:profiles_profile_changelist"
GENERATE = "admin:profiles_profile_generate"


@pytest.fixture
def run(db):
    return SyntheticRun.objects.create(started_by="os:x", seed=1, auth_backend="local", status="succeeded")


def _actions(response) -> set[str]:
    form = response.context["action_form"]
    if form is None:  # no action at all: the admin draws no action bar
        return set()
    return {value for value, _ in form.fields["action"].choices if value}


def test_anonymous_is_sent_to_login(client, run):
    for url in (reverse(GENERATE), reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post(reverse(GENERATE), {"patients": 1}).status_code == 302


def test_staff_without_permissions_sees_no_button_no_actions_and_gets_403(client, staff_plain, run):
    client.force_login(staff_plain)
    changelist = client.get(reverse(CHANGELIST))
    assert changelist.status_code == 200
    assert b"Generate synthetic data" not in changelist.content
    assert not _actions(changelist) & {"delete_synthetic_users", "add_checkin_days", "extend_to_today"}
    assert client.get(reverse(GENERATE)).status_code == 403
    assert (
        client.post(
            reverse(GENERATE), {"patients": 1, "therapists": 0, "checkin_days": 1, "pattern": "stable"}
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).status_code == 403
    assert client.post(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).status_code == 403
    detail = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert detail.status_code == 200 and b"Purge this run" not in detail.content
    assert SyntheticRun.objects.count() == 1


def test_generate_permission_alone(client, staff_generator, run):
    client.force_login(staff_generator)
    changelist = client.get(reverse(CHANGELIST))
    assert b"Generate synthetic data" in changelist.content
    assert _actions(changelist) == {"add_checkin_days", "extend_to_today"}
    assert client.get(reverse(GENERATE)).status_code == 200
    assert client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).status_code == 403


def test_purge_permission_alone(client, staff_purger, run):
    client.force_login(staff_purger)
    changelist = client.get(reverse(CHANGELIST))
    assert b"Generate synthetic data" not in changelist.content
    assert _actions(changelist) == {"delete_synthetic_users"}
    assert client.get(reverse(GENERATE)).status_code == 403
    detail = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b"Purge this run" in detail.content
    assert client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).status_code == 200


def test_superuser_has_everything(admin_client, run):
    changelist = admin_client.get(reverse(CHANGELIST))
    assert b"Generate synthetic data" in changelist.content
    assert _actions(changelist) == {
        "delete_synthetic_users",
        "add_checkin_days",
        "extend_to_today",
        "export_patients_checkins",
    }
    assert admin_client.get(reverse(GENERATE)).status_code == 200


def test_state_changes_need_csrf(staff_all, run):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_all)
    response = client.post(
        reverse(GENERATE), {"patients": 1, "therapists": 0, "checkin_days": 1, "pattern": "stable"}
    )
    assert response.status_code == 403
    assert client.post(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).status_code == 403
    assert SyntheticRun.objects.count() == 1


def test_runs_and_profiles_are_read_only(admin_client, run):
    assert admin_client.get(reverse("admin:synthadmin_syntheticrun_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:synthadmin_syntheticrun_delete", args=[run.pk])).status_code == 403
    )
