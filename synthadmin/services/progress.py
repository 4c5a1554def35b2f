"""Where a run stands, for its live page: ``run_progress`` (a read model; writes nothing)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from synthadmin.models import RunChunk, SyntheticRun
from synthadmin.services.figures import run_figures
from synthadmin.services.task_queue import BackendUnreachable, backend_name, chunks_lost
from synthadmin.services.workers import WORKER_COMMAND, workers_alive

Status = SyntheticRun.Status
#: How many of a run's queued chunks the page looks up in the task backend (each poll).
QUEUED_LOOKED_AT = 5


@dataclass(frozen=True)
class RunProgress:
    """What the live run page shows (``as_dict`` is its JSON)."""

    status: str
    status_display: str
    finished: bool
    users_done: int
    users_total: int
    checkins_done: int
    checkins_total: int  # while running, the Preview's figure; ended: what was made
    checkins_exact: bool
    failures: int
    rate: float | None  # users per second since the first chunk started (ended: over the run)
    eta_seconds: float | None
    chunks: dict[str, int]
    workers_alive: int
    cancel_requested: bool
    message: str
    patterns_asked: dict[str, int] = dataclasses.field(default_factory=dict)
    patterns_created: dict[str, int] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def run_progress(run: SyntheticRun) -> RunProgress:
    """Where a run stands, from the ledger and its chunks (cheap: indexed counts)."""
    run.refresh_from_db()
    figures = run_figures(run)  # the numbers every page and command shows
    finished = figures.finished
    done, checkins, failures = figures.users_created, figures.checkins_created, figures.users_failed
    chunk_states = dict(run.chunks.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    alive = len(workers_alive()) if not finished else 0
    started = (
        run.chunks.exclude(started_at=None)
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if started is None and finished and not run.background:
        started = run.started_at  # an inline run has no chunks: it ran from its start
    total = figures.users
    rate = eta = None
    end = run.finished_at if finished and run.finished_at else timezone.now()
    if started is not None and done and (finished or alive):  # nothing progresses without a worker
        elapsed = max((end - started).total_seconds(), 1e-3)
        rate = done / elapsed
        eta = None if finished else max(total - done - failures, 0) / rate
    return RunProgress(
        status=str(run.status),
        status_display=run.display_status,
        finished=finished,
        users_done=done,
        users_total=total,
        checkins_done=checkins,
        # While it runs, the Preview's figure (exact or about); once it has ended, what was made.
        checkins_total=figures.checkins,
        checkins_exact=figures.checkins_exact,
        patterns_asked=figures.patterns_asked,
        patterns_created=figures.patterns_created,
        failures=failures,
        rate=round(rate, 2) if rate is not None else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        chunks={str(k): int(v) for k, v in chunk_states.items()},
        workers_alive=alive,
        cancel_requested=run.cancel_requested_at is not None,
        message=_message(run, finished=finished, alive=alive),
    )


def _message(run: SyntheticRun, *, finished: bool, alive: int) -> str:
    """The line the page shows under the numbers: what the run waits for, or how it ended —
    no worker alive, the task backend not answering, or a task the queue lost (which)."""
    queue = _queue_trouble(run) if not finished else ""
    if run.status == Status.QUEUED and not alive:
        lost = f" ({queue}: the worker enqueues it again when it starts)" if queue else ""
        return f"queued — no worker has picked it up; start one with: {WORKER_COMMAND}{lost}"
    if queue and alive:
        return f"{run.status} — {queue}"
    if run.status == Status.QUEUED:
        return "queued — waiting for a worker"
    if not finished and run.cancel_requested_at is not None and not run.background:
        return (
            f"cancelling — the process running it ({run.owner_host}, pid {run.owner_pid}) stops between "
            "users or batches; those in flight are being finished or compensated"
        )
    if not finished and run.cancel_requested_at is not None:
        return "cancelling — users in flight are being finished or compensated"
    if not finished and not alive and run.background:
        return f"running, but no worker is alive; start one with: {WORKER_COMMAND}"
    if finished and run.error_summary:
        return run.error_summary
    return ""


def _queue_trouble(run: SyntheticRun) -> str:
    """What keeps the run's queued chunks from a worker, if anything: the backend does not
    answer, or it lost a chunk's task (``task_queue``); "" when their tasks are there."""
    queued = list(run.chunks.filter(state=RunChunk.State.QUEUED).order_by("first")[:QUEUED_LOOKED_AT])
    if not queued:
        return ""
    try:
        lost = chunks_lost(queued)
    except BackendUnreachable:
        return f"{backend_name()} does not answer; the workers wait for it and go on when it is back"
    if not lost:
        return ""
    chunk = next(c for c in queued if c.pk in lost)
    seconds = round(settings.SYNTHADMIN_REAPER_SECONDS)
    return (
        f"the task queue lost the task of users {chunk.first}-{chunk.stop - 1} ({lost[chunk.pk]}); "
        f"a worker enqueues it again within {seconds} s"
    )


__all__ = ["RunProgress", "run_progress"]
