"""Readable check-ins: labelled sections titled "patient — date"; the list's key values and filters."""

from __future__ import annotations

import json
import re

from django.db import connection
from django.urls import reverse

from checkins.models import CheckIn
from synthadmin.fieldlabels import FIELD_LABELS, SECTION_TITLES
from synthadmin.models import SyntheticUser
from synthadmin.mood_chart import STATE_LABELS
from synthadmin.services.ground_truth import state_by_day
from tests.story.conftest import generate

CHANGELIST = "admin:checkins_checkin_changelist"


def _sql(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def test_checkin_page_shows_six_labelled_sections_titled_patient_and_date(
    client, viewer, supabase_tables_cleanup
):
    generate(patients=1, days=10)
    entry = SyntheticUser.objects.get(role="patient")
    checkin = CheckIn.objects.filter(user_id=entry.user_id).order_by("checkin_date").first()
    assert checkin is not None
    [(name,)] = _sql("SELECT raw_user_meta_data ->> 'name' FROM auth.users WHERE id = %s", [entry.user_id])
    client.force_login(viewer)

    page = client.get(reverse("admin:checkins_checkin_change", args=[checkin.pk])).content.decode()

    assert f"<title>{name} — {checkin.checkin_date.isoformat()}" in page
    assert f"<h1>{name} — {checkin.checkin_date.isoformat()}</h1>" in page
    headings = re.findall(r'<h2[^>]*class="fieldset-heading"[^>]*>([^<]+)</h2>', page)
    assert headings == list(SECTION_TITLES.values())
    hours = json.loads(_sql("SELECT sleep_data FROM public.check_ins WHERE id = %s", [checkin.pk])[0][0])[
        "hoursSlept"
    ]
    assert re.search(rf"Hours slept \(h\):</label>\s*<div class=\"readonly\">{hours} h</div>", page)
    for field in FIELD_LABELS:
        assert f"{field.label_with_unit}:</label>" in page
    state = state_by_day(entry.ground_truth)[checkin.checkin_date]
    assert f'<div class="readonly">{STATE_LABELS[state]}</div>' in page
    assert "{&quot;" not in page  # no raw JSON


def test_changelist_shows_key_values_and_filters_by_run_and_state(client, viewer, supabase_tables_cleanup):
    first = generate(patients=2, days=60, pattern="cycling")
    generate(patients=1, days=60, pattern="stable", seed=11)
    client.force_login(viewer)

    response = client.get(reverse(CHANGELIST), {"run": str(first.run_id)})
    [(count,)] = _sql(
        "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser e "
        "ON e.user_id = c.user_id WHERE e.run_id = %s",
        [first.run_id],
    )
    assert response.context["cl"].result_count == count
    page = response.content.decode()
    for header in (
        "Patient",
        "Checkin date",
        "Ground-truth state",
        "Hours slept (h)",
        "Energy",
        "Depressed mood",
    ):
        assert header in page

    truth = {
        (e.user_id, day): state
        for e in SyntheticUser.objects.filter(run_id=first.run_id)
        for day, state in state_by_day(e.ground_truth).items()
    }
    expected = sum(
        1
        for user, day in _sql(
            "SELECT c.user_id, c.checkin_date FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser e "
            "ON e.user_id = c.user_id WHERE e.run_id = %s",
            [first.run_id],
        )
        if truth[(user, day)] == "euthymic"
    )
    filtered = client.get(reverse(CHANGELIST), {"run": str(first.run_id), "state": "euthymic", "all": ""})
    assert filtered.context["cl"].result_count == expected > 0
    assert {r._day_state for r in filtered.context["cl"].result_list} == {"euthymic"}
