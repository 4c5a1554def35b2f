"""In the request, or queued for the workers: one rule (``in_request``) for every admin operation.

Generate (``run_start_or_enqueue``), purge (``run_purge_start_or_enqueue``), a scenario's Run and
Reset, and the admin's "Delete selected synthetic users" (``synthadmin.admin.tasks``) each ask
``in_request``; the tasks the services enqueue live here beside them.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from django.conf import settings
from django_tasks import task

from synthadmin.auth import AuthGateway
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.selectors import entries_live
from synthadmin.services.cancel import run_cancel, runs_purge
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import logins_sink
from synthadmin.services.reports import PurgeReport, RunReport
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate
from synthadmin.services.scenarios import (
    ResetReport,
    scenario_request,
    scenario_reset,
    scenario_runs_purge,
    scenario_validate,
)
from synthadmin.services.workers import workers_alive

Status = SyntheticRun.Status


class Placement(StrEnum):
    """Where a piece of admin work runs: what the admin tells staff before and after."""

    IN_REQUEST = "in_request"
    """Here, now: the page answers when it is done."""
    WORKERS = "workers"
    """Queued, and a worker is alive to take it."""
    WAITS = "waits"
    """Queued with no worker alive: it waits until one starts (``WORKER_COMMAND``)."""


def placement(*, users: int, for_workers: bool = False, waits_for_a_worker: bool = False) -> Placement:
    """Where work on ``users`` users runs (the one rule of every admin operation).

    While a worker is alive, work goes to it when it is ``for_workers`` (a generation, whose
    chunks spread over the workers; a purge that must first wait for a run to stop) or larger
    than ``SYNTHADMIN_ADMIN_INLINE_PATIENTS`` users — a proxy would cut a long request. With no
    worker alive it runs here, unless it is large and ``waits_for_a_worker`` (a generation:
    queued for the first worker to start).
    """
    small = users <= settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS
    if workers_alive():
        return Placement.IN_REQUEST if small and not for_workers else Placement.WORKERS
    return Placement.IN_REQUEST if small or not waits_for_a_worker else Placement.WAITS


def in_request(*, users: int, for_workers: bool = False, waits_for_a_worker: bool = False) -> bool:
    """Whether work on ``users`` users runs in this request (True) or goes to a task (False):
    ``placement`` says which."""
    where = placement(users=users, for_workers=for_workers, waits_for_a_worker=waits_for_a_worker)
    return where == Placement.IN_REQUEST


def queued_placement() -> Placement:
    """Where work just queued stands: taken by a live worker, or waiting for one."""
    return Placement.WORKERS if workers_alive() else Placement.WAITS


def run_placement(request: GenerationRequest | GenerationParams) -> Placement:
    """Where ``run_start_or_enqueue`` would run this generation (what the Preview says)."""
    params = generation_request_validate(request)
    return placement(users=params.patients + params.therapists, for_workers=True, waits_for_a_worker=True)


def scenario_placement(scenario: Scenario) -> Placement:
    """Where a scenario's Run (and Reset) would run it."""
    users = scenario.patients + scenario.therapists
    return placement(users=users, for_workers=True, waits_for_a_worker=True)


def run_start_or_enqueue(
    *,
    request: GenerationRequest | GenerationParams,
    started_by: Starter,
    scenario: Scenario | None = None,
    max_patients: int | None = None,
    gateway: AuthGateway | None = None,
    hold_logins: bool = False,
) -> tuple[SyntheticRun, RunReport | None]:
    """What the admin form and a scenario's Run call: ``population_generate`` in the request, or
    ``run_enqueue`` (``in_request``: small and no worker alive runs here). ``hold_logins``:
    every user gets a password, held encrypted for one download (``services.logins``), inline
    and in the background alike.

    Returns ``(run, report)``: ``report`` is the finished run's report when it ran inline,
    None when it was enqueued (the run is ``queued``). Raises what ``population_generate`` /
    ``run_enqueue`` raise.
    """
    params = generation_request_validate(request, max_patients=max_patients)
    if in_request(users=params.patients + params.therapists, for_workers=True, waits_for_a_worker=True):
        report = population_generate(
            request=params,
            started_by=started_by,
            scenario=scenario,
            gateway=gateway,
            credentials=logins_sink() if hold_logins else None,
        )
        return SyntheticRun.objects.get(pk=report.run_id), report
    return run_enqueue(
        request=params, started_by=started_by, scenario=scenario, hold_logins=hold_logins
    ), None


def run_purge_start_or_enqueue(*, run: SyntheticRun, by: str) -> PurgeReport | None:
    """The admin's "Purge this run" (``runs_purge``): in the request unless ``in_request`` says
    a task (``purge_run_task``) — the run's users whose Auth user may exist are many, or it is in
    progress, with a worker alive; a run in progress is then cancelled at once (``by``), and the
    task purges it once it has stopped.

    Returns the purge report, or None when the purge was enqueued. Raises what ``runs_purge``
    raises.
    """
    in_progress = run.background and run.status in (Status.QUEUED, Status.RUNNING)
    if in_request(users=entries_live(run=run.pk).count(), for_workers=in_progress):
        return runs_purge(run=run.pk, by=by)  # an inline run in progress is asked to stop first
    if in_progress:
        run_cancel(run=run, by=by, for_purge=True)
    purge_run_task.enqueue(str(run.pk))
    return None


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def purge_run_task(run_id: str) -> dict[str, object]:
    """Purge one run in the background (``runs_purge``: a run in progress is cancelled and
    awaited first); returns the purge report."""
    return runs_purge(run=uuid.UUID(run_id)).as_dict()


def users_delete(*, user_ids: list[uuid.UUID], by: str = "purge") -> PurgeReport:
    """Delete these synthetic users (``runs_purge(user_ids=...)``: real users in the list are
    named and left alone; the runs in progress writing for them — the runs that made them, the
    additions of days to them — asked to stop by ``by`` and awaited first): what the Profiles
    list's "Delete selected synthetic users" does, in the request or in a task; the admin logs
    what the report says was deleted.

    Raises what ``runs_purge`` raises: InvalidRequestError when a run is still stopping after the
    wait, before anything is deleted.
    """
    return runs_purge(run=None, user_ids=user_ids, by=by)


def scenario_reset_start_or_enqueue(*, scenario: Scenario, started_by: Starter) -> ResetReport | None:
    """A scenario's Reset by the rule of its Run (``in_request``, as a generation):
    ``scenario_reset`` in the request, or a task (``scenario_reset_task``) that purges the
    scenario's earlier runs and enqueues the new one.

    Returns the reset report, or None when it was enqueued. Raises InvalidRequestError for a
    scenario that could not run (before anything is purged or enqueued), and what
    ``scenario_reset`` raises.
    """
    users = scenario.patients + scenario.therapists
    if in_request(users=users, for_workers=True, waits_for_a_worker=True):
        return scenario_reset(scenario=scenario, started_by=started_by)
    scenario_validate(scenario)
    scenario_reset_task.enqueue(scenario.pk, started_by.label, started_by.user_id, started_by.source)
    return None


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def scenario_reset_task(scenario_id: int, label: str, user_id: int | None, source: str) -> dict[str, object]:
    """Reset a scenario in the background: purge its earlier runs, then enqueue its run (none when
    the purge left anything); returns ``{"purge": report, "run_id": id or None, "reason": why}``."""
    scenario = Scenario.objects.get(pk=scenario_id)
    purge, reason = scenario_runs_purge(scenario=scenario)
    run = None
    if not reason:
        run = run_enqueue(
            request=scenario_request(scenario),
            scenario=scenario,
            started_by=Starter(label, user_id=user_id, source=source),
        )
    return {"purge": purge.as_dict(), "run_id": str(run.pk) if run is not None else None, "reason": reason}


__all__ = [
    "Placement",
    "in_request",
    "placement",
    "purge_run_task",
    "queued_placement",
    "run_placement",
    "run_purge_start_or_enqueue",
    "run_start_or_enqueue",
    "scenario_placement",
    "scenario_reset_start_or_enqueue",
    "scenario_reset_task",
    "users_delete",
]
