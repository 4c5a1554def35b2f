"""Purging an "Add check-in days" run: the command says what it removes (check-ins, no users)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

from django.core.management import call_command

from profiles.models import Profile
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import synthetic_counts


def test_dry_run_and_purge_name_the_added_checkins(supabase_tables_cleanup):
    population_generate(
        request=GenerationRequest(
            patients=1, checkin_days=5, seed=1, end_date=dt.date(2026, 6, 1), adherence=1.0
        ),
        started_by=Starter("os:tester"),
    )
    before = synthetic_counts()["checkins"]
    report, _ = checkins_backfill(
        patient_ids=[Profile.objects.get().id],
        days=4,
        pattern="stable",
        started_by=Starter("os:tester"),
        seed=2,
    )
    assert report is not None
    added = report.checkins_created
    assert added > 0
    dry = StringIO()
    call_command("purge_synthetic", "--run", str(report.run_id), "--dry-run", stdout=dry, stderr=StringIO())
    assert "Nothing" not in dry.getvalue() and f"│ {added} " in dry.getvalue().replace(",", "")
    out = StringIO()
    call_command("purge_synthetic", "--run", str(report.run_id), "--yes", stdout=out, stderr=StringIO())
    assert "Nothing" not in out.getvalue()
    assert synthetic_counts()["checkins"] == before and synthetic_counts()["patients"] == 1
