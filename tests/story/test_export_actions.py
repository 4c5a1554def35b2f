"""Exports people use: the admin's export actions (the check-ins of selected patients; the
selected or filtered check-ins) as CSV or JSONL, gzip on request, synthetic patients only, with
therapist id and day index; runs that hold nothing offer no download; purged runs leave the
Run filters."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json

from django.db import connection
from django.urls import reverse
from django.utils import timezone

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.export import export_columns
from tests.realdata import insert_real_user
from tests.story.conftest import generate, staff_with

PROFILES = reverse("admin:profiles_profile_changelist")
CHECKINS = reverse("admin:checkins_checkin_changelist")


def _staff():
    return staff_with("view_profile", "view_checkin", "view_syntheticrun", "export_synthetic_data")


def _body(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def _therapists() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT patient_id::text, therapist_id::text FROM public.therapist_patients")
        return dict(cursor.fetchall())


def _first_days() -> dict[str, dt.date]:
    return {
        str(e.user_id): dt.date.fromisoformat(e.ground_truth["states"][0][1])
        for e in SyntheticUser.objects.filter(role="patient", state="complete")
    }


def test_export_of_selected_patients_is_theirs_only_with_therapist_and_day_index(
    client, supabase_tables_cleanup
):
    report = generate(patients=3, therapists=1, days=40, pattern="cycling", seed=8)
    real = insert_real_user(checkins=5)
    entry = SyntheticUser.objects.filter(run_id=report.run_id, role="patient").first()
    assert entry is not None
    patient = entry.user_id
    # Staff who may see real patients, so the real one is in the selection: the export leaves it out.
    client.force_login(
        staff_with(
            "view_profile", "view_checkin", "view_syntheticrun", "export_synthetic_data", "view_real_patients"
        )
    )
    chosen = {"action": "export_patients_checkins", "_selected_action": [str(patient), str(real)], "index": 0}

    page = client.post(PROFILES, chosen)
    assert (
        page.status_code == 200
        and b'id="export-form"' in page.content
        and b"2 selected profiles" in page.content
    )

    body = _body(client.post(PROFILES, {**chosen, "post": "yes", "fmt": "csv"}))
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert list(rows[0]) == [c.name for c in export_columns()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [patient])
        (count,) = cursor.fetchone()
    assert len(rows) == count and {r["patient_id"] for r in rows} == {str(patient)}  # never the real one
    assert {r["therapist_id"] for r in rows} == {_therapists()[str(patient)]}
    first = _first_days()[str(patient)]
    assert all(int(r["day_index"]) == (dt.date.fromisoformat(r["checkin_date"]) - first).days for r in rows)


def test_export_of_filtered_checkins_as_gzipped_jsonl(client, supabase_tables_cleanup):
    cycling = generate(patients=4, therapists=1, days=90, pattern="cycling", seed=9)
    generate(patients=2, days=30, pattern="stable", seed=10)
    client.force_login(_staff())
    url = f"{CHECKINS}?run={cycling.run_id}&state=depressed_mild"
    listed = client.get(url).context["cl"].result_count
    assert listed > 0
    chosen = {"action": "export_checkins", "select_across": "1", "index": 0, "_selected_action": ["x"]}

    response = client.post(url, {**chosen, "post": "yes", "fmt": "jsonl", "gzip": "on"})
    assert response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"].endswith('.jsonl.gz"')
    records = [json.loads(line) for line in gzip.decompress(_body(response)).decode().splitlines()]
    assert len(records) == listed
    assert {r["run_id"] for r in records} == {str(cycling.run_id)}
    assert {r["state"] for r in records} == {"depressed_mild"}
    assert all(isinstance(r["day_index"], int) and r["therapist_id"] for r in records)


def test_runs_that_hold_nothing_offer_no_download_and_purged_runs_leave_the_filters(
    client, supabase_tables_cleanup
):
    held = generate(patients=1, days=5, pattern="stable", seed=11)
    purged = generate(patients=1, days=5, pattern="stable", seed=12)
    SyntheticRun.objects.filter(pk=purged.run_id).update(purged_at=timezone.now())
    queued = SyntheticRun.objects.create(started_by="os:x", seed=1, auth_backend="local", status="queued")
    client.force_login(_staff())

    def downloads(run_id) -> bool:
        page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run_id]))
        return b'class="download-run"' in page.content

    assert downloads(held.run_id)
    assert not downloads(purged.run_id) and not downloads(queued.pk)
    for listing in (PROFILES, CHECKINS):
        choices = client.get(listing).content.decode()
        assert f"?run={held.run_id}" in choices
        assert f"?run={purged.run_id}" not in choices
