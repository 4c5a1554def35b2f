"""Stopping background runs: a cooperative cancel, waiting for it, and a purge that stops first.

A cancel sets the run's flag and cancels the chunks not started; running chunks see the flag
within a fraction of a second (``workers.ChunkHeartbeat``), start no new user, and finish or
compensate those in flight; the last of them finishes the run (``chunks.run_settle``).
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import RunChunk, SyntheticRun
from synthadmin.services.chunks import chunks_reap, run_settle
from synthadmin.services.purge import purge_preflight, synthetic_users_purge
from synthadmin.services.reports import ProgressListener, PurgeReport

Status = SyntheticRun.Status


def run_cancel(*, run: SyntheticRun, by: str) -> SyntheticRun:
    """Cancel a queued or running background run (cooperatively); return it, refreshed.

    Writes: the run's cancel flag (``cancel_requested_at``/``_by``); its chunks not started
    become ``cancelled``; with no chunk running the run is finished ``aborted`` at once, else the
    running chunks stop at their next heartbeat (users in flight finished or compensated) and
    the last of them finishes it. Raises InvalidRequestError for a run that is not a queued or
    running background run.
    """
    if not run.background or run.status not in (Status.QUEUED, Status.RUNNING):
        raise InvalidRequestError(
            f"run {run.pk} is {run.get_status_display().lower()}, not a queued or running background run: "
            "nothing to cancel"
        )
    with transaction.atomic():
        locked = SyntheticRun.objects.select_for_update().get(pk=run.pk)
        if locked.cancel_requested_at is None:
            locked.cancel_requested_at, locked.cancel_requested_by = timezone.now(), by[:255]
            locked.save(update_fields=["cancel_requested_at", "cancel_requested_by"])
        locked.chunks.filter(state=RunChunk.State.QUEUED).update(
            state=RunChunk.State.CANCELLED, finished_at=timezone.now()
        )
    run_settle(run.pk)
    run.refresh_from_db()
    return run


def run_wait(run: SyntheticRun, *, timeout: float) -> SyntheticRun:
    """Wait until a background run is neither queued nor running (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if run.status not in (Status.QUEUED, Status.RUNNING) or time.monotonic() >= deadline:
            return run
        time.sleep(0.2)


def runs_in_progress(*, run: uuid.UUID | None) -> list[SyntheticRun]:
    """The background runs queued or running: ``run`` (if it is one), or all when None."""
    runs = SyntheticRun.objects.filter(background=True, status__in=[Status.QUEUED, Status.RUNNING])
    if run is not None:
        runs = runs.filter(pk=run)
    return list(runs)


def _run_or_runs_in_progress(run: uuid.UUID | None) -> list[SyntheticRun]:
    """``runs_in_progress``; for one run, read in the same statement that tells it exists
    (InvalidRequestError when it does not)."""
    if run is None:
        return runs_in_progress(run=None)
    found = SyntheticRun.objects.filter(pk=run).first()
    if found is None:
        raise InvalidRequestError(f"no synthadmin run with id {run}", field="run")
    return [found] if found.background and found.status in (Status.QUEUED, Status.RUNNING) else []


def runs_stop_before_purge(*, run: uuid.UUID | None, runs: list[SyntheticRun] | None = None) -> None:
    """Cancel the background runs in progress (``run``, or every run when None; ``runs``, those
    the caller already found with ``runs_in_progress``) and wait, at most
    ``SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS``, for their workers to finish or compensate the users
    in flight. Chunks whose worker died are settled on the way.

    Writes what ``run_cancel`` writes (by "purge"). Raises InvalidRequestError when a run is
    still stopping after the wait (purge it again then).
    """
    runs = runs_in_progress(run=run) if runs is None else runs
    deadline = time.monotonic() + settings.SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS
    for each in runs:
        run_cancel(run=each, by="purge")
    for each in runs:
        chunks_reap()
        if run_wait(each, timeout=max(deadline - time.monotonic(), 0)).status in (
            Status.QUEUED,
            Status.RUNNING,
        ):
            raise InvalidRequestError(
                f"run {each.pk} is still stopping (a worker is finishing its users in flight); it was "
                "cancelled: purge it again in a moment"
            )


def runs_purge(
    *,
    run: uuid.UUID | None,
    gateway: AuthGateway | None = None,
    stop: threading.Event | None = None,
    progress: ProgressListener | None = None,
) -> PurgeReport:
    """Purge one run (``run``) or every run (None), a background run in progress cancelled and
    awaited first (``runs_stop_before_purge``); Auth is checked before either
    (``purge_preflight``, or ``synthetic_users_purge``'s own check when nothing is in progress),
    so a refused key cancels nothing.

    Writes what ``runs_stop_before_purge`` and ``synthetic_users_purge`` write; raises what they
    raise, and InvalidRequestError (``field="run"``) for a run that does not exist, before
    anything is written.
    """
    stop = stop or threading.Event()
    with gateway_in_use(gateway, cancel=stop) as auth:
        in_progress = _run_or_runs_in_progress(run)
        if in_progress:
            purge_preflight(run=run, gateway=auth)
            runs_stop_before_purge(run=run, runs=in_progress)
        return synthetic_users_purge(run=run, gateway=auth, stop=stop, progress=progress)


__all__ = ["run_cancel", "run_wait", "runs_in_progress", "runs_purge", "runs_stop_before_purge"]
