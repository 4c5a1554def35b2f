"""Which runs a purge asks to stop first (``cancel.runs_in_progress``): the purged run when it is
going, and every addition of check-in days in progress for one of its patients — not one that
adds days to other patients only, and not an addition already ended. A purge of selected users
(the admin's "Delete selected synthetic users") the same way: the runs in progress that made
them, and the additions in progress to one of them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.cancel import runs_in_progress
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest


def _generated(seed: int) -> SyntheticRun:
    report = population_generate(
        request=GenerationRequest(patients=2, checkin_days=2, seed=seed), started_by=Starter("os:tester")
    )
    return SyntheticRun.objects.get(pk=report.run_id)


def _adding_days_to(*runs: SyntheticRun) -> SyntheticRun:
    """An ``extend`` run in progress in this (live) process, started for the patients of ``runs``."""
    ids = sorted(str(u.user_id) for run in runs for u in run.users.all())
    return ledger.run_start(
        kind=SyntheticRun.Kind.EXTEND,
        started_by=Starter("os:tester"),
        parameters={"mode": "to_today", "patient_ids": ids},
        seed=0,
        auth_backend="none",
    )


def test_a_purge_stops_the_additions_to_its_patients_and_no_other(supabase_tables_cleanup):
    first, second = _generated(1), _generated(2)
    to_first = _adding_days_to(first)
    to_both = _adding_days_to(first, second)
    ended = _adding_days_to(second)
    ledger.run_finish(ended, status=SyntheticRun.Status.SUCCEEDED, error="")

    assert {r.pk for r in runs_in_progress(run=first.pk)} == {to_first.pk, to_both.pk}
    assert {r.pk for r in runs_in_progress(run=second.pk)} == {to_both.pk}
    # An addition purged itself is stopped; every run in progress when all are purged.
    assert {r.pk for r in runs_in_progress(run=to_first.pk)} == {to_first.pk}
    assert {r.pk for r in runs_in_progress(run=None)} == {to_first.pk, to_both.pk}
    assert runs_in_progress(run=ended.pk) == []


def test_a_purge_of_selected_users_stops_what_writes_for_them_and_nothing_else(supabase_tables_cleanup):
    first, second = _generated(1), _generated(2)
    to_first = _adding_days_to(first)
    to_both = _adding_days_to(first, second)
    ended = _adding_days_to(first)
    ledger.run_finish(ended, status=SyntheticRun.Status.SUCCEEDED, error="")
    # A generation going in this (live) process, with one user written so far.
    generating = ledger.run_start(
        kind=SyntheticRun.Kind.GENERATE,
        started_by=Starter("os:tester"),
        parameters={},
        seed=0,
        auth_backend="local",
    )
    being_made = SyntheticUser.objects.create(
        run=generating, user_id=uuid.uuid4(), email="in.flight@example.org", role="patient"
    )
    one_of_first = first.users.values_list("user_id", flat=True)[0]
    one_of_second = second.users.values_list("user_id", flat=True)[0]

    def stopped(*user_ids: uuid.UUID) -> set[uuid.UUID]:
        return {r.pk for r in runs_in_progress(run=None, user_ids=list(user_ids))}

    assert stopped(one_of_first) == {to_first.pk, to_both.pk}
    assert stopped(one_of_second) == {to_both.pk}
    assert stopped(being_made.user_id) == {generating.pk}
    assert stopped(being_made.user_id, one_of_second) == {generating.pk, to_both.pk}
    # Users no run writes for (a real user's id, nobody at all): nothing to stop.
    assert stopped(uuid.uuid4()) == set()
    assert stopped() == set()


@pytest.mark.parametrize("mode", ["to today", "add days"])
def test_an_addition_of_days_keeps_its_run_alive_between_batches(
    supabase_tables_cleanup, settings, monkeypatch, mode
):
    """A purge on another host tells a live run from a dead one by its heartbeat (older than
    ``HEARTBEAT_STALE``: interrupted, not stopped): an addition beats between batches as a
    generation does between users (here at every batch)."""
    end = timezone.localdate() - dt.timedelta(days=3)
    report = population_generate(
        request=GenerationRequest(patients=3, checkin_days=2, seed=4, end_date=end),
        started_by=Starter("os:tester"),
    )
    settings.SYNTHADMIN_BATCH_USERS = 1
    monkeypatch.setattr(ledger, "HEARTBEAT_EVERY", dt.timedelta(0))
    beats: list[dt.datetime | None] = []
    real_heartbeat = ledger.run_heartbeat

    def heartbeat(run: SyntheticRun) -> None:
        real_heartbeat(run)
        beats.append(run.heartbeat_at)

    monkeypatch.setattr(ledger, "run_heartbeat", heartbeat)
    ids = list(SyntheticRun.objects.get(pk=report.run_id).users.values_list("user_id", flat=True))

    if mode == "to today":
        checkins_extend_to_today(patient_ids=ids, started_by=Starter("os:tester"))
    else:
        checkins_backfill(patient_ids=ids, days=2, pattern=None, started_by=Starter("os:tester"))

    extension = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)
    assert len(beats) == 3 and extension.heartbeat_at == beats[-1]
