"""Scenarios in the admin: editable and runnable with the generate permission; reset needs the
purge permission too, asks first, purges the earlier run and runs again; a scenario too large
for a request is enqueued, its reset too."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from synthadmin.models import Scenario, SyntheticRun
from tests.invariants import synthetic_counts

CHANGELIST = "admin:synthadmin_scenario_changelist"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tiny():
    return Scenario.objects.create(
        name="tiny", therapists=1, patients=3, mix={"stable": 2, "cycling": 1}, checkin_days=3, seed=5,
        end_date=dt.date(2026, 6, 1),
    )  # fmt: skip


def test_staff_without_the_generate_permission_does_not_see_scenarios(client, staff_plain, tiny):
    client.force_login(staff_plain)
    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_reset_needs_the_purge_permission_too(client, staff_generator, tiny):
    """Reset purges: an action listing two permissions passes when either does, so Reset asks for
    both through one of its own."""
    client.force_login(staff_generator)
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200 and b"run_scenarios" in page.content
    assert b"reset_scenarios" not in page.content
    response = client.post(
        reverse(CHANGELIST),
        {"action": "reset_scenarios", "_selected_action": [tiny.pk], "post": "yes"},
        follow=True,
    )
    assert not SyntheticRun.objects.exists()
    assert "No action selected" in " ".join(str(m) for m in response.context["messages"])


def test_run_then_reset_from_the_admin(client, staff_all, tiny, supabase_tables_cleanup):
    client.force_login(staff_all)
    confirm = client.post(reverse(CHANGELIST), {"action": "run_scenarios", "_selected_action": [tiny.pk]})
    assert confirm.status_code == 200 and b"Yes, run" in confirm.content
    assert not SyntheticRun.objects.exists()  # nothing runs before the confirmation
    client.post(
        reverse(CHANGELIST), {"action": "run_scenarios", "_selected_action": [tiny.pk], "post": "yes"}
    )
    assert synthetic_counts()["patients"] == 3
    first = SyntheticRun.objects.get(scenario=tiny)

    confirm = client.post(reverse(CHANGELIST), {"action": "reset_scenarios", "_selected_action": [tiny.pk]})
    assert confirm.status_code == 200 and b"1 earlier run to purge" in confirm.content
    assert synthetic_counts()["patients"] == 3  # nothing happened yet
    client.post(
        reverse(CHANGELIST), {"action": "reset_scenarios", "_selected_action": [tiny.pk], "post": "yes"}
    )
    first.refresh_from_db()
    assert first.purged_at is not None
    assert SyntheticRun.objects.filter(scenario=tiny, purged_at__isnull=True).count() == 1
    assert synthetic_counts()["patients"] == 3


def test_a_scenario_that_cannot_run_is_not_saved(client, staff_all):
    client.force_login(staff_all)
    response = client.post(
        reverse("admin:synthadmin_scenario_add"),
        {"name": "broken", "therapists": 0, "patients": 10, "mix": '{"stable": 30}', "pattern": "stable",
         "checkin_days": 10, "adherence": 0.85, "locale": "pt_BR"},
    )  # fmt: skip
    assert response.status_code == 200 and b"add up to 30" in response.content
    assert not Scenario.objects.filter(name="broken").exists()


def test_a_large_scenario_is_enqueued_and_so_is_its_reset(client, staff_all, tiny):
    Scenario.objects.filter(pk=tiny.pk).update(patients=5000, mix={"stable": 60, "cycling": 40})
    client.force_login(staff_all)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "reset_scenarios", "_selected_action": [tiny.pk], "post": "yes"},
        follow=True,
    )
    assert "tiny: reset queued" in " ".join(str(m) for m in response.context["messages"])
    assert not SyntheticRun.objects.exists()  # the task waits for a worker: nothing purged or run yet
    response = client.post(
        reverse(CHANGELIST),
        {"action": "run_scenarios", "_selected_action": [tiny.pk], "post": "yes"},
        follow=True,
    )
    assert "queued for background workers" in " ".join(str(m) for m in response.context["messages"])
    run = SyntheticRun.objects.get()
    assert run.status == SyntheticRun.Status.QUEUED and run.scenario_id == tiny.pk
