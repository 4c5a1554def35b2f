"""One set of numbers: the Preview, the run page (and its live progress), ``list_runs`` (table and
``--json``) and ``generate_synthetic --json`` say the same counts for the same run — before it
runs, where the Preview estimates the check-ins (600 patients), and after it has ended."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from synthadmin.models import SyntheticRun

pytestmark = pytest.mark.django_db(transaction=True)

MIX = "stable=60,cycling=25,depressive=15"
ASKED = {"stable": 360, "cycling": 150, "depressive": 90}
OPTIONS = ["--patients", "600", "--therapists", "6", "--checkins", "30", "--seed", "4242"]
OPTIONS += ["--end-date", "2026-06-30", "--mix", MIX]


def _preview(client) -> dict:
    form = {
        "patients": "600",
        "therapists": "6",
        "checkin_days": "30",
        "pattern": "stable",
        "mix": MIX,
        "seed": "4242",
        "end_date": "2026-06-30",
        "_preview": "1",
    }
    response = client.post(reverse("admin:profiles_profile_generate"), form)
    assert response.status_code == 200, response.content[:2000]
    preview = response.context["preview"]
    page = response.content.decode()
    assert f"about {preview.checkins:,}" in page and not preview.checkins_exact
    return {"checkins": preview.checkins, "by_pattern": preview.patients_by_pattern, "page": page}


def _list_runs() -> tuple[dict[str, dict], str]:
    document, table = StringIO(), StringIO()
    call_command("list_runs", "--json", stdout=document)
    call_command("list_runs", stdout=table)
    return {run["id"]: run for run in json.loads(document.getvalue())}, table.getvalue()


def _run_page(client, run: SyntheticRun) -> tuple[str, dict]:
    page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])).content.decode()
    progress = client.get(reverse("admin:synthadmin_syntheticrun_progress", args=[run.pk])).json()
    return page, progress


def test_preview_run_page_list_runs_and_json_agree(admin_client, supabase_tables_cleanup):
    preview = _preview(admin_client)
    assert preview["by_pattern"] == ASKED
    for pattern, count in ASKED.items():
        assert f'data-pattern="{pattern}">{count:,}<' in preview["page"]

    # Before it runs (queued): the run page, its progress and list_runs say the Preview's estimate.
    out = StringIO()
    call_command("generate_synthetic", *OPTIONS, "--background", "--json", stdout=out)
    queued = json.loads(out.getvalue())
    assert queued["figures"]["checkins"] == preview["checkins"]
    run = SyntheticRun.objects.get(pk=queued["run_id"])
    page, progress = _run_page(admin_client, run)
    assert progress["checkins_total"] == preview["checkins"] and not progress["checkins_exact"]
    assert progress["patterns_asked"] == ASKED and progress["users_total"] == 606
    assert f'of about <span data-field="checkins_total">{preview["checkins"]:,}</span>' in page
    runs, _table = _list_runs()
    asked = runs[str(run.pk)]["asked"]
    assert (asked["checkins"], asked["patients_by_pattern"], asked["patients"]) == (
        preview["checkins"],
        ASKED,
        600,
    )
    call_command("purge_synthetic", "--run", str(run.pk), "--yes", stdout=StringIO())

    # After it has ended: every page and command says what it made.
    out = StringIO()
    call_command("generate_synthetic", *OPTIONS, "--json", stdout=out)
    report = json.loads(out.getvalue())
    made = report["checkins_created"]
    assert report["patients_by_pattern"] == ASKED and report["patients_created"] == 600
    assert abs(made - preview["checkins"]) / made < 0.05  # the estimate is close, and says "about"
    run = SyntheticRun.objects.get(pk=report["run_id"])
    page, progress = _run_page(admin_client, run)
    assert (progress["checkins_done"], progress["checkins_total"], progress["checkins_exact"]) == (
        made,
        made,
        True,
    )
    assert (progress["users_done"], progress["failures"]) == (606, report["users_failed"])
    assert progress["patterns_created"] == ASKED
    assert f'<span data-field="checkins_done">{made:,}</span>' in page
    assert f'<div class="readonly">{made:,}</div>' in page  # the record's Check-ins created
    for pattern, count in ASKED.items():
        assert f'data-pattern="{pattern}">{count:,}<' in page
    runs, table = _list_runs()
    listed = runs[str(run.pk)]
    assert (listed["checkins_created"], listed["patients_created"], listed["users_failed"]) == (
        made,
        600,
        report["users_failed"],
    )
    assert listed["patients_by_pattern"] == ASKED
    assert f"{made:,}" in table
    assert all(f"{pattern} {count}" in table for pattern, count in ASKED.items())
