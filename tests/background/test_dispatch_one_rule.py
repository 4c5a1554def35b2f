"""In the request or queued: one rule (``dispatch.in_request``) for generate, purge, delete and a
scenario's Run and Reset; a Reset too large for the request is a task that purges the earlier
runs and enqueues the new one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.dispatch import in_request, scenario_reset_start_or_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.workers import worker_touch

pytestmark = pytest.mark.django_db(transaction=True)

GENERATION = {"for_workers": True, "waits_for_a_worker": True}
DELETION: dict[str, bool] = {}
PURGE_IN_PROGRESS = {"for_workers": True}


@pytest.mark.parametrize(
    ("users", "work", "alive", "inline"),
    [
        (5, GENERATION, False, True),  # small, nobody to take it: here
        (5, GENERATION, True, False),  # a worker is alive: its chunks go to the workers
        (50, GENERATION, False, False),  # too large for a request: queued for the first worker
        (5, DELETION, True, True),
        (50, DELETION, True, False),  # too large, a worker alive: a task
        (50, DELETION, False, True),  # nobody would do it: here
        (5, PURGE_IN_PROGRESS, True, False),  # waits for the run to stop: a task
        (50, PURGE_IN_PROGRESS, False, True),
    ],
)
def test_the_rule(settings, users, work, alive, inline):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 20
    if alive:
        worker_touch(backend="db")  # this process counts as a live worker
    assert in_request(users=users, **work) is inline


def _drain() -> list[Any]:
    """Run every ready task in this process, in the order the database backend hands them out."""
    results = []
    while (ready := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        ready.claim("in-process")
        results.append(ready.task.call(*ready.task_result.args, **ready.task_result.kwargs))
        ready.set_successful(None)
    return results


def test_a_reset_too_large_for_the_request_is_a_task(settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 4
    settings.SYNTHADMIN_CHUNK_USERS = 4
    scenario = Scenario.objects.create(
        name="clinic", therapists=1, patients=6, checkin_days=3, seed=5, end_date=dt.date(2026, 6, 1)
    )
    starter = Starter("staff:alice", user_id=None, source=SyntheticRun.Source.ADMIN)

    assert scenario_reset_start_or_enqueue(scenario=scenario, started_by=starter) is None
    assert not SyntheticRun.objects.exists()  # nothing until a worker takes the task
    reset, *chunks = _drain()
    assert reset["reason"] == "" and reset["purge"]["users_deleted"] == 0
    first = SyntheticRun.objects.get()
    assert str(first.pk) == reset["run_id"] and chunks == ["done"] * len(chunks)
    first.refresh_from_db()
    assert first.status == SyntheticRun.Status.SUCCEEDED and first.scenario_id == scenario.pk
    assert (first.started_by, first.source) == ("staff:alice", SyntheticRun.Source.ADMIN)

    assert scenario_reset_start_or_enqueue(scenario=scenario, started_by=starter) is None
    reset, *_ = _drain()
    assert reset["purge"]["users_deleted"] == 7 and reset["purge"]["runs"] == [str(first.pk)]
    first.refresh_from_db()
    assert first.purged_at is not None
    live = SyntheticRun.objects.filter(scenario=scenario, purged_at__isnull=True).get()
    assert live.status == SyntheticRun.Status.SUCCEEDED and (
        live.patients_created,
        live.therapists_created,
    ) == (
        6,
        1,
    )


def test_a_small_reset_with_no_worker_alive_runs_in_the_request(settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 20
    scenario = Scenario.objects.create(
        name="tiny", patients=2, checkin_days=2, seed=5, end_date=dt.date(2026, 6, 1)
    )
    reset = scenario_reset_start_or_enqueue(scenario=scenario, started_by=Starter("staff:alice"))
    assert reset is not None and reset.run is not None and reset.run.patients_created == 2
    assert not DBTaskResult.objects.exists()
