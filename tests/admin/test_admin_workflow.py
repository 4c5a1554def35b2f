"""The admin workflow with the test client: the form, the actions, purge-this-run, the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from profiles.models import Profile
from synthadmin.models import SyntheticRun
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows

GENERATE = "admin:profiles_profile_generate"
CHANGELIST = "admin:profiles_profile_changelist"


def _form(**overrides):
    data = {
        "patients": "3",
        "therapists": "1",
        "checkin_days": "14",
        "pattern": "stable",
        "seed": "7",
        "end_date": "",
    }
    data.update(overrides)
    return data


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def operator_client(client, staff_all, real_population):
    client.force_login(staff_all)
    return client


def test_generate_form_creates_users_and_returns_to_the_filtered_changelist(
    operator_client, staff_all, real_population
):
    response = operator_client.post(reverse(GENERATE), _form(), follow=True)

    run = SyntheticRun.objects.get()
    assert response.redirect_chain[-1][0].endswith(f"?run={run.pk}")  # the list narrowed to this run
    message = _messages(response)[0]
    assert "Created 3 patients, 1 therapist and" in message and "run " in message
    rows = response.context["cl"].result_list
    assert len(rows) == 4 and all(p.is_test_patient for p in rows)
    assert (run.source, run.started_by, run.started_by_user_id) == ("admin", "staff:operator", staff_all.pk)
    entry = LogEntry.objects.get(action_flag=ADDITION)
    assert entry.user_id == staff_all.pk and entry.object_id == str(run.pk)
    assert_invariants(real_population)


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"patients": "-1"}, "patients", "greater than or equal to 0"),
        ({"patients": "10001"}, "__all__", "also for the command): make several runs"),
        ({"patients": "abc"}, "patients", "Enter a whole number"),
        ({"checkin_days": "5000"}, "checkin_days", "between 0 and 3,650"),
        ({"pattern": "zigzag"}, "pattern", "Select a valid choice"),
        ({"end_date": "2999-01-01"}, "end_date", "is in the future"),
        ({"end_date": "31/02/2026"}, "end_date", "Enter a valid date"),
        ({"seed": "-3"}, "seed", "greater than or equal to 0"),
    ],
)
def test_generate_form_shows_errors_inline_and_writes_nothing(
    operator_client, real_population, overrides, field, text
):
    response = operator_client.post(reverse(GENERATE), _form(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and text in " ".join(errors[field])
    assert text.encode() in response.content or text.replace("'", "&#x27;").encode() in response.content
    assert SyntheticRun.objects.count() == 0 and synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)


def test_generate_form_needs_someone_to_create(operator_client):
    response = operator_client.post(reverse(GENERATE), _form(patients="0", therapists="0"))
    assert "at least one patient or therapist" in str(response.context["form"].non_field_errors())


def test_delete_action_confirms_then_deletes_synthetic_and_names_real(operator_client, real_population):
    operator_client.post(reverse(GENERATE), _form(patients="2", therapists="0"))
    selected = list(Profile.objects.values_list("id", flat=True))  # synthetic and real together
    real_emails = set(Profile.objects.real().values_list("email", flat=True))

    confirm = operator_client.post(
        reverse(CHANGELIST), {"action": "delete_synthetic_users", "_selected_action": selected}
    )
    assert confirm.status_code == 200 and b"Yes, delete them" in confirm.content
    assert synthetic_counts()["patients"] == 2  # nothing deleted before confirmation

    done = operator_client.post(
        reverse(CHANGELIST),
        {"action": "delete_synthetic_users", "_selected_action": selected, "post": "yes"},
        follow=True,
    )
    texts = _messages(done)
    assert any("Deleted 2 synthetic users" in t for t in texts)
    warning = next(t for t in texts if t.startswith("Not deleted (real users)"))
    assert all(email is not None and email in warning for email in real_emails)
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2
    assert_invariants(real_population)


def test_add_checkin_days_refuses_real_patients(operator_client, real_population):
    operator_client.post(reverse(GENERATE), _form(patients="2", therapists="0", end_date="2026-06-30"))
    synthetic = list(Profile.objects.synthetic().values_list("id", flat=True))
    real = list(Profile.objects.real().filter(role="patient").values_list("id", flat=True))
    before = synthetic_counts()["checkins"]

    page = operator_client.post(
        reverse(CHANGELIST), {"action": "add_checkin_days", "_selected_action": synthetic + real}
    )
    assert page.status_code == 200 and b"Refused" in page.content

    done = operator_client.post(
        reverse(CHANGELIST),
        {
            "action": "add_checkin_days",
            "_selected_action": synthetic + real,
            "apply": "1",
            "days": "20",
            "pattern": "cycling",
        },
        follow=True,
    )
    texts = _messages(done)
    added = next(t for t in texts if t.startswith("Added"))
    count = int(added.split()[1].replace(",", ""))
    assert 0 < count <= 40
    assert synthetic_counts()["checkins"] == before + count
    refused = next(t for t in texts if t.startswith("Refused"))
    assert "a real patient" in refused
    patient = Profile.objects.synthetic().first()
    assert patient is not None
    first_checkin = patient.checkins.order_by("checkin_date").first()
    assert first_checkin is not None
    earliest = first_checkin.checkin_date
    assert earliest < dt.date(2026, 6, 30) - dt.timedelta(days=14)
    assert LogEntry.objects.filter(action_flag=ADDITION).count() == 2
    assert_invariants(real_population)


def test_purge_this_run_page(operator_client, real_population):
    operator_client.post(reverse(GENERATE), _form())
    run = SyntheticRun.objects.get()
    detail = operator_client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b"Purge this run" in detail.content and b"4 users created, 0 failed" in detail.content
    confirm = operator_client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk]))
    assert b"This deletes <strong>4</strong> synthetic users" in confirm.content
    assert synthetic_counts()["auth_users"] == 4

    done = operator_client.post(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk]), follow=True)
    assert any("Purged 4 synthetic users" in t for t in _messages(done))
    assert synthetic_counts()["auth_users"] == 0
    run.refresh_from_db()
    assert run.purged_at is not None
    assert LogEntry.objects.filter(action_flag=CHANGE, object_id=str(run.pk)).exists()
    again = operator_client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b"Purge this run" not in again.content
    assert snapshot_real_rows() == real_population
