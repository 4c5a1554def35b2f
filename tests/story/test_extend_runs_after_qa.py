"""What a QA pass found about extend runs: how they are called, what purging their patients' own
run makes of them, and the runs that must not be written at all."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest

STARTER = Starter("os:tester")


def _generate_ended(days_ago: int):
    return population_generate(
        request=GenerationRequest(
            patients=3,
            checkin_days=20,
            pattern="cycling",
            seed=11,
            end_date=timezone.localdate() - dt.timedelta(days=days_ago),
        ),
        started_by=STARTER,
    )


def test_an_extend_to_today_run_is_called_so_in_the_admin_and_list_runs(
    supabase_tables_cleanup, admin_client
):
    _generate_ended(5)
    done = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert done.report is not None
    run = SyntheticRun.objects.get(pk=done.report.run_id)

    assert run.kind_label == "Extend to today" and str(run).startswith("Extend to today ")
    listing = admin_client.get(reverse("admin:synthadmin_syntheticrun_changelist")).content.decode()
    assert "Extend to today" in listing
    confirm = admin_client.get(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk])).content.decode()
    assert 'id="checkins-to-remove">' in confirm and "deletes no user" in confirm
    assert "synthetic users of this run" not in confirm


def test_purging_the_generate_run_closes_its_extend_runs(supabase_tables_cleanup):
    generated = _generate_ended(5)
    extension = checkins_extend_to_today(all_patients=True, started_by=STARTER).report
    added = checkins_backfill(
        patient_ids=Profile.objects.values_list("id", flat=True), days=2, pattern="stable", started_by=STARTER
    )[0]
    assert extension is not None and added is not None

    report = synthetic_users_purge(run=generated.run_id)

    assert {str(extension.run_id), str(added.run_id)} <= set(report.runs)
    for run_id in (extension.run_id, added.run_id):
        assert SyntheticRun.objects.get(pk=run_id).purged_at is not None
        assert not CheckinAddition.objects.filter(run_id=run_id, removed_at__isnull=True).exists()
    again = synthetic_users_purge(run=extension.run_id, dry_run=True)
    assert again.checkins_deleted == 0 and again.users_deleted == 0


def test_adding_zero_days_is_refused_and_writes_nothing(supabase_tables_cleanup):
    _generate_ended(0)
    runs = SyntheticRun.objects.count()
    ids = list(Profile.objects.values_list("id", flat=True))

    with pytest.raises(InvalidRequestError, match="between 1 and 3,650, got 0: adding 0 days adds nothing"):
        checkins_backfill(patient_ids=ids, days=0, pattern="stable", started_by=STARTER)
    with pytest.raises(CommandError, match="--days: days must be between 1 and 3,650, got 0"):
        call_command("extend_synthetic", "--all", "--days", "0", "--pattern", "stable")
    with pytest.raises(CommandError, match=r"--days: days must be between 1 and 3,650, got 99,999$"):
        call_command("extend_synthetic", "--all", "--days", "99999", "--pattern", "stable")

    assert SyntheticRun.objects.count() == runs and not CheckinAddition.objects.exists()
