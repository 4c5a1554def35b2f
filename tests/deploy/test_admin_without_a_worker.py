"""Staff without a shell (issue 22, item 6): with no worker alive, the Preview of a run that
would be queued says so and that it will wait, the message after Generate is a warning that
names the worker command, and the same for a scenario's Run and Reset; the home page shows
synthetic counts, runs in progress and workers alive."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import constants
from django.urls import reverse

from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from synthadmin.services.workers import WORKER_COMMAND, worker_touch
from tests.admin.conftest import _staff

pytestmark = pytest.mark.django_db(transaction=True)

GENERATE = "admin:profiles_profile_generate"
FORM = {
    "patients": "30",
    "therapists": "0",
    "checkin_days": "5",
    "pattern": "stable",
    "seed": "7",
    "end_date": "",
}


@pytest.fixture
def operator(client, settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 20
    user = _staff("operator", "generate_synthetic_data", "purge_synthetic_data", "view_scenario")
    client.force_login(user)
    return user


def _messages(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in response.context["messages"]]


def test_with_no_worker_the_preview_and_the_message_say_the_run_will_wait(client, operator):
    preview = client.post(reverse(GENERATE), {**FORM, "_preview": "Preview"})
    page = preview.content.decode()
    assert 'id="preview-no-worker"' in page
    note = preview.context["waiting_note"]
    assert note.startswith("No worker is running.") and "will be queued and wait" in note
    assert "30 users is more than the 20" in note and WORKER_COMMAND in note

    generated = client.post(reverse(GENERATE), {**FORM, "_generate": "Generate"}, follow=True)
    run = SyntheticRun.objects.get()
    assert run.status == SyntheticRun.Status.QUEUED
    [(level, text)] = _messages(generated)
    assert level == constants.WARNING  # not a green success: nothing will happen by itself
    assert text.startswith("Run queued: 30 patients and 0 therapists.")
    assert f"No worker is running: it waits in the queue until one starts ({WORKER_COMMAND})." in text


def test_with_a_worker_alive_the_preview_says_workers_take_it_and_the_message_is_a_success(client, operator):
    worker_touch(backend="db")  # this process counts as a live worker
    preview = client.post(reverse(GENERATE), {**FORM, "_preview": "Preview"})
    page = preview.content.decode()
    assert 'id="preview-no-worker"' not in page and "for the workers running now" in page
    generated = client.post(reverse(GENERATE), {**FORM, "_generate": "Generate"}, follow=True)
    [(level, text)] = _messages(generated)
    assert level == constants.SUCCESS and "No worker" not in text


def test_a_small_run_is_made_while_the_page_waits(client, operator):
    preview = client.post(reverse(GENERATE), {**FORM, "patients": "3", "_preview": "Preview"})
    assert "Generate creates it now, while this page waits." in preview.content.decode()


def test_a_scenarios_run_and_reset_say_they_wait_for_a_worker(client, operator):
    scenario = Scenario.objects.create(
        name="big-clinic", therapists=1, patients=40, checkin_days=3, seed=5, end_date=dt.date(2026, 6, 1)
    )
    changelist = reverse("admin:synthadmin_scenario_changelist")
    confirm = client.post(changelist, {"action": "run_scenarios", "_selected_action": [scenario.pk]})
    assert "scenario-no-worker" in confirm.content.decode()
    ran = client.post(
        changelist, {"action": "run_scenarios", "_selected_action": [scenario.pk], "post": "yes"}, follow=True
    )
    [(level, text)] = _messages(ran)
    assert level == constants.WARNING and "big-clinic: queued" in text and WORKER_COMMAND in text

    confirm = client.post(changelist, {"action": "reset_scenarios", "_selected_action": [scenario.pk]})
    assert "reset-no-worker" in confirm.content.decode()
    reset = client.post(
        changelist,
        {"action": "reset_scenarios", "_selected_action": [scenario.pk], "post": "yes"},
        follow=True,
    )
    [(level, text)] = _messages(reset)
    assert level == constants.WARNING and "reset queued" in text and WORKER_COMMAND in text


def test_the_home_page_shows_synthetic_data_runs_and_workers(client, operator):
    population_generate(
        request=GenerationRequest(
            patients=3, therapists=1, checkin_days=4, seed=2, end_date=dt.date(2026, 6, 1)
        ),
        started_by=Starter("os:tester"),
    )
    client.post(reverse(GENERATE), {**FORM, "_generate": "Generate"})  # queued: no worker
    home = client.get(reverse("admin:index"))
    page = home.content.decode()
    overview = home.context["synthadmin_overview"]
    assert (overview.patients.value, overview.patients.exact) == (3, True)
    assert (overview.therapists.value, overview.therapists.exact) == (1, True)
    assert overview.runs_in_progress_total == 1 and overview.runs_queued == 1 and overview.workers == []
    assert 'id="overview-patients">3<' in page and 'id="overview-workers">0<' in page
    assert 'id="overview-no-worker"' in page and WORKER_COMMAND in page

    worker_touch(backend="db")
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="overview-workers">1<' in page and 'id="overview-no-worker"' not in page


def test_the_home_page_counts_are_cheap(client, operator, django_assert_max_num_queries):
    # Sessions, user, permissions, the panel (runs x2 + ledger, two catalog estimates, in progress
    # x3, workers) and the recent actions: a fixed number, whatever the size of the tables.
    with django_assert_max_num_queries(16):
        assert client.get(reverse("admin:index")).status_code == 200
