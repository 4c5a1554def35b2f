""" "Run selected scenarios" confirms first: a Preview of each scenario (sizes, patients per pattern,
check-ins, whether it queues), nothing written until "Yes, run"; a scenario with a live
population says so and offers Reset to staff who may purge (and only to them)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from synthadmin.models import Scenario, SyntheticRun
from tests.invariants import synthetic_counts

CHANGELIST = "admin:synthadmin_scenario_changelist"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clinic():
    return Scenario.objects.create(
        name="clinic", therapists=1, patients=8, mix={"stable": 50, "cycling": 25, "depressive": 25},
        checkin_days=5, seed=9, end_date=dt.date(2026, 6, 1),
    )  # fmt: skip


def _confirm(client, scenario):
    return client.post(reverse(CHANGELIST), {"action": "run_scenarios", "_selected_action": [scenario.pk]})


def test_run_shows_a_preview_and_waits_for_yes(client, staff_all, clinic, supabase_tables_cleanup):
    client.force_login(staff_all)
    page = _confirm(client, clinic)
    text = page.content.decode()
    assert page.status_code == 200 and "Run scenarios?" in text
    [plan] = page.context["plans"]
    assert plan["preview"].patients_by_pattern == {"stable": 4, "cycling": 2, "depressive": 2}
    for pattern, count in (("stable", 4), ("cycling", 2), ("depressive", 2)):
        assert f'data-pattern="{pattern}">{count}<' in text
    assert 'id="clinic-patients">8<' in text and 'id="clinic-therapists">1<' in text
    assert "It runs now, while this page waits." in text
    assert "already has a live population" not in text
    assert not SyntheticRun.objects.exists() and synthetic_counts()["auth_users"] == 0

    client.post(
        reverse(CHANGELIST), {"action": "run_scenarios", "_selected_action": [clinic.pk], "post": "yes"}
    )
    run = SyntheticRun.objects.get(scenario=clinic)
    assert (run.patients_created, run.therapists_created) == (8, 1)

    again = _confirm(client, clinic).content.decode()
    assert "clinic already has a live population" in again and run.tag in again
    assert 'id="offer-reset"' in again and 'value="reset_scenarios"' in again


def test_reset_is_offered_only_to_staff_who_may_purge(
    client, staff_generator, clinic, supabase_tables_cleanup
):
    client.force_login(staff_generator)
    client.post(
        reverse(CHANGELIST), {"action": "run_scenarios", "_selected_action": [clinic.pk], "post": "yes"}
    )
    again = _confirm(client, clinic).content.decode()
    assert "clinic already has a live population" in again
    assert 'id="offer-reset"' not in again and "Reset</strong> instead" not in again
