"""The generate form's first step: a preview that writes nothing, then Generate with the same parameters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from synthadmin.models import SyntheticRun
from synthadmin.services import preview as preview_module
from synthadmin.services.population import patient_history
from synthadmin.services.preview import SAMPLE_PATIENTS, population_preview
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants
from tests.logins.conftest import FORM

GENERATE = "admin:profiles_profile_generate"


def _counts() -> dict[str, int]:
    tables = {
        "profiles": "public.profiles",
        "auth_users": "auth.users",
        "check_ins": "public.check_ins",
        "runs": "synthadmin_syntheticrun",
        "ledger": "synthadmin_syntheticuser",
        "held_logins": "synthadmin_heldlogin",
    }
    with connection.cursor() as cursor:
        counts = {}
        for name, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[name] = cursor.fetchone()[0]
    return counts


def test_preview_writes_nothing_then_generate_makes_that_population(client, starter, real_population):
    client.force_login(starter)
    before = _counts()
    form = {**FORM, "seed": "", "create_logins": "on"}  # a random seed: the preview fixes it
    preview = client.post(reverse(GENERATE), {**form, "_preview": "Preview"})
    assert preview.status_code == 200
    assert _counts() == before  # nothing written anywhere
    report = preview.context["preview"]
    page = preview.content.decode()
    assert 'id="preview-patients">3<' in page and 'id="preview-therapists">1<' in page
    assert f'id="preview-checkins">{report.checkins}<' in page  # 3 patients: exact, not "about"
    assert report.checkins_exact and 0 < report.checkins <= 3 * 14
    # Up to the last 7 days of the sample patient (a patient may skip a day: fewer then).
    assert report.sample_patient in page and 1 <= len(report.sample_days) <= 7
    assert 'name="_generate"' in page and 'name="_back"' in page

    # "Generate" posts the hidden parameters, the chosen seed and end date included.
    hidden = {
        name: preview.context["form"][name].value()
        for name in ("patients", "therapists", "checkin_days", "pattern", "mix", "create_logins")
    }
    hidden.update(seed=str(report.parameters["seed"]), end_date=report.parameters["end_date"])
    client.post(
        reverse(GENERATE),
        {**{k: v or "" for k, v in hidden.items()}, "create_logins": "True", "_generate": "Generate"},
    )
    run = SyntheticRun.objects.get()
    assert (
        run.seed == report.parameters["seed"] and run.parameters["end_date"] == report.parameters["end_date"]
    )
    assert (run.patients_created, run.therapists_created, run.checkins_created) == (3, 1, report.checkins)
    # The run's first patient is person number 1 (after the one therapist): ``<name>.<tag>.1@``.
    first = run.users.get(role="patient", email__contains=f".{run.tag}.1@")
    with connection.cursor() as cursor:
        cursor.execute("SELECT raw_user_meta_data->>'name' FROM auth.users WHERE id = %s", [first.user_id])
        assert cursor.fetchone()[0] == report.sample_patient  # same seed, same first patient
    assert run.held_logins.count() == 4  # the checkbox travelled through the preview
    assert_invariants(real_population)


def test_the_generate_button_is_the_hidden_form_as_rendered(client, starter, real_population):
    """What a browser posts: every hidden input of the preview page, as rendered."""
    import re

    client.force_login(starter)
    preview = client.post(reverse(GENERATE), {**FORM, "_preview": "Preview"})
    form_html = preview.content.decode().split('id="generate-confirm-form"')[1].split("</form>")[0]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_html))
    assert {"patients", "therapists", "checkin_days", "pattern", "seed", "end_date"} <= set(data)
    client.post(reverse(GENERATE), {**data, "_generate": "Generate"})
    run = SyntheticRun.objects.get()
    assert run.seed == 7 and run.patients_created == 3 and run.held_logins.count() == 0


def test_the_same_preview_generates_once(client, starter, real_population):
    """Back and resubmit (or a second tab) posts the same preview again: no second population."""
    import re

    client.force_login(starter)
    preview = client.post(reverse(GENERATE), {**FORM, "_preview": "Preview"})
    form_html = preview.content.decode().split('id="generate-confirm-form"')[1].split("</form>")[0]
    data = {**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_html))}
    assert data["preview_token"]
    client.post(reverse(GENERATE), {**data, "_generate": "Generate"})
    before = _counts()

    again = client.post(reverse(GENERATE), {**data, "_generate": "Generate"}, follow=True)

    assert _counts() == before and SyntheticRun.objects.count() == 1
    assert any("already generated" in str(m) for m in again.context["messages"])
    # A fresh preview of the same parameters may generate again.
    fresh = client.post(reverse(GENERATE), {**FORM, "_preview": "Preview"})
    found = re.search(r'name="preview_token" value="([^"]+)"', fresh.content.decode())
    assert found is not None
    token = found.group(1)
    client.post(reverse(GENERATE), {**data, "preview_token": token, "_generate": "Generate"})
    assert SyntheticRun.objects.count() == 2


def test_back_returns_to_the_form_with_the_values(client, starter, real_population):
    client.force_login(starter)
    back = client.post(reverse(GENERATE), {**FORM, "patients": "5", "_back": "Back"})
    assert back.status_code == 200 and "preview" not in back.context
    assert back.context["form"]["patients"].value() == "5" and b'name="_preview"' in back.content
    assert SyntheticRun.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"patients": "-1"}, "patients", "greater than or equal to 0"),
        ({"checkin_days": "5000"}, "checkin_days", "between 0 and 3,650"),
        ({"mix": "stable=60,zigzag=40"}, "mix", "zigzag"),
    ],
)
def test_a_bad_parameter_on_the_preview_step_shows_the_form_error(
    client, starter, real_population, overrides, field, text
):
    client.force_login(starter)
    before = _counts()
    response = client.post(reverse(GENERATE), {**FORM, **overrides, "_preview": "Preview"})
    assert response.status_code == 200 and "preview" not in response.context
    errors = response.context["form"].errors
    assert any(text in " ".join(messages) for messages in errors.values()), errors
    assert _counts() == before


def test_a_large_request_builds_at_most_50_histories(monkeypatch):
    built: list[int] = []
    real = patient_history  # what preview calls (it imports it from population)

    def counting(**kwargs):
        built.append(kwargs["patient_index"])
        return real(**kwargs)

    monkeypatch.setattr(preview_module, "patient_history", counting)
    report = population_preview(
        request=GenerationRequest(
            patients=10_000,
            therapists=100,
            checkin_days=3_650,
            seed=11,
            end_date=dt.date(2026, 6, 30),
            mix={"stable": 70, "cycling": 15, "depressive": 10, "manic": 5},
        )
    )
    assert len(built) <= SAMPLE_PATIENTS and len(set(built)) == len(built)
    assert report.sampled_patients == len(built) and not report.checkins_exact
    assert (report.patients, report.therapists) == (10_000, 100)
    # Every pattern sampled: the manic block (the last 500 patients) included.
    assert any(index >= 9_500 for index in built)
    expected = 10_000 * 3_650 * 0.85
    assert abs(report.checkins - expected) / expected < 0.05  # an estimate, labelled as such
    assert abs(sum(report.state_shares.values()) - 1) < 1e-3


def test_a_small_request_counts_every_patient():
    report = population_preview(
        request=GenerationRequest(patients=4, checkin_days=60, pattern="depressive", seed=8)
    )
    assert report.checkins_exact and report.sampled_patients == 4
