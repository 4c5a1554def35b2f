"""Every parameter the content engine or the database would reject is refused up front, in one
line, with nothing written: in the command and the admin form alike."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import SyntheticRun
from synthadmin.services.requests import (
    GenerationRequest,
    generation_request_validate,
    history_window_validate,
)
from tests.invariants import assert_invariants, synthetic_counts

GENERATE = "admin:profiles_profile_generate"
# Arabic-Indic and full-width digits, written as escapes: Python's int() takes them, we do not.


def _nothing_written() -> None:
    assert SyntheticRun.objects.count() == 0
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--end-date", "0001-01-01", "--checkins", "30"],
            "--checkins: 30 days ending 0001-01-01 would start before 0001-01-01",
        ),
        (["--patients", "\u0663"], "--patients: must be a whole number"),
        (["--patients", "\uff13"], "--patients: must be a whole number"),
        (["--patients", "1_0"], "--patients: must be a whole number"),
        (["--checkins", "1_0"], "--checkins: must be a whole number"),
        (["--seed", "\u0663"], "--seed: must be a whole number"),
        (["--concurrency", "\uff12"], "--concurrency: must be a whole number"),
        (["--adherence", "0_5"], "--adherence: must be a number"),
        (["--adherence", "nan"], "--adherence: must be a number"),
        (["--end-date", "\uff12\uff10\uff12\uff16-01-01"], "--end-date: must be a date as YYYY-MM-DD"),
        (["--end-date", "20260101"], "--end-date: must be a date as YYYY-MM-DD"),
    ],
)
def test_command_refuses_in_one_line_and_writes_nothing(real_population, args, message):
    with pytest.raises(CommandError) as info:
        call_command("generate_synthetic", *args, stdout=StringIO(), stderr=StringIO())
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.returncode == 1
    _nothing_written()
    assert_invariants(real_population)


def test_the_shared_rule_knows_both_ends_of_the_calendar(settings):
    settings.SYNTHADMIN_MAX_CHECKIN_DAYS = 3650
    history_window_validate(end_date=dt.date(1, 1, 30), days=30)  # starts exactly on 0001-01-01
    with pytest.raises(InvalidRequestError) as info:
        history_window_validate(end_date=dt.date(1, 1, 29), days=30)
    assert info.value.field == "checkin_days"
    with pytest.raises(InvalidRequestError) as info:
        history_window_validate(end_date=dt.date.max, days=1)
    assert info.value.field == "end_date"
    with pytest.raises(InvalidRequestError):
        generation_request_validate(GenerationRequest(end_date=dt.date(1, 1, 1), checkin_days=2))


def test_admin_cap_counts_therapists_too(settings):
    settings.SYNTHADMIN_ADMIN_MAX_PATIENTS = 200
    with pytest.raises(InvalidRequestError, match="patients and therapists together"):
        generation_request_validate(GenerationRequest(patients=1, therapists=200), max_patients=200)


@pytest.fixture
def operator_client(client, real_population, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops-admin", "ops-admin@example.com", "x"))
    return client


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "patients": "3",
        "therapists": "0",
        "checkin_days": "14",
        "pattern": "stable",
        "seed": "",
        "end_date": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"end_date": "0001-01-01", "checkin_days": "30"}, "checkin_days", "would start before 0001-01-01"),
        ({"patients": "\u0663"}, "patients", "Enter a whole number"),
        ({"patients": "\uff13"}, "patients", "Enter a whole number"),
        ({"patients": "1_0"}, "patients", "Enter a whole number"),
        ({"checkin_days": "1_0"}, "checkin_days", "Enter a whole number"),
        (
            {"end_date": "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661"},
            "end_date",
            "Enter a valid date",
        ),
        ({"patients": "1", "therapists": "10000"}, "__all__", "patients and therapists together"),
    ],
)
def test_admin_form_refuses_the_same_and_writes_nothing(
    operator_client, real_population, overrides, field, text
):
    response = operator_client.post(reverse(GENERATE), _form(**overrides))
    assert response.status_code == 200
    assert text in " ".join(response.context["form"].errors.get(field, []))
    _nothing_written()
    assert_invariants(real_population)


def test_admin_cap_counts_patients_and_therapists_together(operator_client, real_population, settings):
    settings.SYNTHADMIN_ADMIN_MAX_PATIENTS = 200
    response = operator_client.post(reverse(GENERATE), _form(patients="150", therapists="60"))
    assert response.status_code == 200
    assert "patients and therapists together" in str(response.context["form"].non_field_errors())
    _nothing_written()
