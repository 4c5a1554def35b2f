"""The run ledger: the one place where a ledger entry changes state.

A *ledger entry* (``SyntheticUser``) is one attempt to create one user, written before the Auth
call. Its states (``synthadmin.models.SyntheticUser.State``)::

    intent ──► complete ──► purged
       │
       ├──► collided      (identity taken; the next attempt has a fresh one)
       ├──► compensated   (rows could not be written; the Auth user was deleted again)
       └──► failed        (proved to have left nothing behind, or proved not ours)

An entry stays ``intent`` until something proves what became of its Auth user; ``purge``
resolves the ones a crash left behind. Services call these functions; none writes
``SyntheticUser.state`` itself.

A *run* (``SyntheticRun``) is started by ``run_start`` (which records the process that owns
it), kept alive by ``run_heartbeat`` and ended by ``run_finish``, the one status ladder. A run
whose owner died without finishing (kill -9, a lost machine) is found by
``runs_reap_interrupted`` and marked ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil
from django.utils import timezone

from synthadmin.models import LIVE_STATES, SyntheticRun, SyntheticUser

__all__ = ["LIVE_STATES"]

State = SyntheticUser.State


def entry_intent(
    *,
    run: SyntheticRun,
    user_id: uuid.UUID,
    email: str,
    role: str,
    attempt: int,
    job_index: int | None = None,
) -> SyntheticUser:
    """Record, before the Auth call, that ``user_id`` is about to be created (committed at once);
    ``job_index``, which user of the run it is (``PersonSpec.number``)."""
    return SyntheticUser.objects.create(
        run=run,
        user_id=user_id,
        email=email,
        role=role,
        attempt=attempt,
        state=State.INTENT,
        job_index=job_index,
    )


def entry_complete(entry_id: int, *, checkins: int, ground_truth: dict[str, Any] | None = None) -> None:
    """The user's rows are written (call inside the transaction that writes them)."""
    SyntheticUser.objects.filter(pk=entry_id).update(
        state=State.COMPLETE, checkins=checkins, ground_truth=ground_truth or {}
    )


def entry_collided(entry_id: int, reason: str) -> None:
    _mark([entry_id], State.COLLIDED, reason)


def entry_compensated(entry_id: int, reason: str) -> None:
    _mark([entry_id], State.COMPENSATED, reason)


def entry_failed(entry_ids: Iterable[int], reason: str) -> None:
    """Proved to have left no Auth user of ours behind (or the id was never ours)."""
    _mark(entry_ids, State.FAILED, reason)


def entry_pending(entry_id: int, reason: str) -> None:
    """Still ``intent``: an Auth user may exist; purge will look it up and finish."""
    _mark([entry_id], State.INTENT, reason)


def entries_purged(entry_ids: Iterable[int], reason: str = "") -> None:
    _mark(entry_ids, State.PURGED, reason)


def entries_checkins_added(user_id: uuid.UUID, count: int) -> None:
    """An extend run added ``count`` check-ins to a complete user."""
    from django.db.models import F

    SyntheticUser.objects.filter(user_id=user_id, state=State.COMPLETE).update(checkins=F("checkins") + count)


def entries_checkins_removed(user_id: uuid.UUID, count: int) -> None:
    """Purging an extend run removed ``count`` check-ins it had added to a complete user."""
    from django.db.models import F
    from django.db.models.functions import Greatest

    SyntheticUser.objects.filter(user_id=user_id, state=State.COMPLETE).update(
        checkins=Greatest(F("checkins") - count, 0)
    )


def _mark(entry_ids: Iterable[int], state: str, reason: str) -> None:
    SyntheticUser.objects.filter(pk__in=list(entry_ids)).update(
        state=state, failure_reason=reason[:2000], updated_at=timezone.now()
    )


# --- runs ---------------------------------------------------------------------------------------
#: A running run whose owner runs on another host is taken for dead after this long without a
#: heartbeat (on the same host, a dead owner process is seen at once).
HEARTBEAT_STALE = dt.timedelta(minutes=10)
#: How often a run refreshes its heartbeat.
HEARTBEAT_EVERY = dt.timedelta(seconds=30)


def run_start(
    *,
    kind: str,
    source: str,
    started_by: str,
    started_by_user_id: int | None,
    parameters: dict[str, Any],
    seed: int,
    auth_backend: str,
    scenario: Any = None,
    background: bool = False,
) -> SyntheticRun:
    """Create a ``running`` run owned by this process (host, pid, process start time);
    ``scenario``, a ``Scenario`` whose run it is. ``background``: a ``queued`` run that task
    workers will run chunk by chunk (no owner process; ``synthadmin.services.background``)."""
    if background:
        owned: dict[str, Any] = {"background": True, "status": SyntheticRun.Status.QUEUED}
    else:
        host, pid, started = _owner()
        owned = {
            "owner_host": host,
            "owner_pid": pid,
            "owner_started_at": started,
            "heartbeat_at": timezone.now(),
        }
    return SyntheticRun.objects.create(
        kind=kind,
        source=source,
        started_by=started_by,
        started_by_user_id=started_by_user_id,
        parameters=parameters,
        seed=seed,
        auth_backend=auth_backend,
        scenario=scenario,
        **owned,
    )


def run_mark_running(run_id: uuid.UUID) -> None:
    """A queued background run has started (its first chunk was claimed)."""
    SyntheticRun.objects.filter(pk=run_id, status=SyntheticRun.Status.QUEUED).update(
        status=SyntheticRun.Status.RUNNING, heartbeat_at=timezone.now()
    )


def run_stop_request(run_id: uuid.UUID, by: str) -> bool:
    """Ask a background run's workers to start no new user (a cancel, or a diagnosis such as a
    rejected key that one chunk made); the first request stays. True if this call set it."""
    return bool(
        SyntheticRun.objects.filter(pk=run_id, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now(), cancel_requested_by=by[:255]
        )
    )


def run_heartbeat(run: SyntheticRun) -> None:
    """Say the run is alive (at most every ``HEARTBEAT_EVERY``)."""
    from django.db import DatabaseError

    now = timezone.now()
    if run.heartbeat_at is None or now - run.heartbeat_at >= HEARTBEAT_EVERY:
        run.heartbeat_at = now
        try:
            SyntheticRun.objects.filter(pk=run.pk).update(heartbeat_at=now)
        except DatabaseError:
            pass  # a lost database is reported by the writes that need it, not by the heartbeat


@dataclass(frozen=True)
class RunOutcome:
    """What a run came to, for the status ladder."""

    crash: BaseException | None = None
    stopped: bool = False  # stopped from outside (Ctrl-C, a signal, a stop event), nothing failed
    abort: str = ""  # a diagnosis that stopped the run (rejected key, Auth or database lost)
    failures: int = 0
    first_failure: str = ""
    created: int = 0


def run_status(outcome: RunOutcome) -> tuple[str, str]:
    """The status ladder, once: ``(status, error summary)``.

    A crash fails the run; a diagnosis that stopped it fails it; a stop from outside (Ctrl-C,
    SIGTERM) aborts it even when some users had failed before; else failures make it
    ``partial`` (``failed`` when nobody was created).
    """
    Status = SyntheticRun.Status
    if outcome.crash is not None:
        return Status.FAILED, f"unexpected error: {type(outcome.crash).__name__}: {outcome.crash}"
    if outcome.abort:
        return Status.FAILED, f"stopped: {outcome.abort}"
    if outcome.stopped:
        return Status.ABORTED, "interrupted on request; users in flight were finished or compensated"
    if outcome.failures and not outcome.created:
        return Status.FAILED, outcome.first_failure
    if outcome.failures:
        return (
            Status.PARTIAL,
            f"{outcome.failures} user(s) failed after retries; first: {outcome.first_failure}",
        )
    return Status.SUCCEEDED, ""


def run_finish(run: SyntheticRun, *, status: str, error: str, **counts: Any) -> None:
    """Record the end of ``run`` (status, counts, error), retrying once on a new connection.

    Raises the database error when the database is still unusable (the run then stays
    ``running`` until ``runs_reap_interrupted`` or the next command marks it).
    """
    from django.db import DatabaseError, connection

    from synthadmin.redaction import redact

    run.status = status
    run.error_summary = redact(error)
    run.finished_at = timezone.now()
    for name, value in counts.items():
        setattr(run, name, value)
    try:
        run.save()
    except DatabaseError:
        connection.close()  # a lost connection: try once more on a fresh one
        run.save()


def runs_reap_interrupted() -> list[SyntheticRun]:
    """Mark ``interrupted`` every ``running`` run whose owner is gone; return them.

    Same host: the owner process no longer exists (or its pid now belongs to a process started
    later). Another host, or no owner recorded (a run from an earlier version): no heartbeat for
    ``HEARTBEAT_STALE``. Runs of a task worker are the worker's business (not reaped here).
    """
    host, _pid, _started = _owner()
    now = timezone.now()
    reaped = []
    for run in SyntheticRun.objects.filter(status=SyntheticRun.Status.RUNNING, background=False):
        if run.owner_host == host and run.owner_pid:
            alive = _process_alive(run.owner_pid, run.owner_started_at)
        else:
            last = run.heartbeat_at or run.started_at
            alive = last is not None and now - last < HEARTBEAT_STALE
        if alive:
            continue
        updated = SyntheticRun.objects.filter(pk=run.pk, status=SyntheticRun.Status.RUNNING).update(
            status=SyntheticRun.Status.INTERRUPTED,
            finished_at=now,
            error_summary="interrupted: the process running it died before it finished; purge it to finish",
            **_counts_from_ledger(run),
        )
        if updated:
            run.refresh_from_db()
            reaped.append(run)
    return reaped


def run_counts(run: SyntheticRun) -> dict[str, int]:
    """What a run wrote, from its ledger entries: ``patients_created``, ``therapists_created``,
    ``checkins_created``."""
    return _counts_from_ledger(run)


def process_identity() -> tuple[str, int, dt.datetime]:
    """This process: (host, pid, process start time), as runs and chunks record their owner."""
    return _owner()


def process_alive(pid: int, started_at: dt.datetime | None) -> bool:
    """Whether the process ``pid`` started at ``started_at`` (on this host) still runs."""
    return _process_alive(pid, started_at)


def _counts_from_ledger(run: SyntheticRun) -> dict[str, int]:
    """What a run wrote, read from its ledger entries (its own counters died with its process)."""
    from django.db.models import Count, Q, Sum

    complete = Q(state=State.COMPLETE) | Q(state=State.PURGED)
    totals = run.users.aggregate(
        patients=Count("id", filter=complete & Q(role="patient")),
        therapists=Count("id", filter=complete & Q(role="therapist")),
        checkins=Sum("checkins", filter=complete),
    )
    return {
        "patients_created": totals["patients"],
        "therapists_created": totals["therapists"],
        "checkins_created": totals["checkins"] or 0,
    }


def _owner() -> tuple[str, int, dt.datetime]:
    pid = os.getpid()
    started = dt.datetime.fromtimestamp(psutil.Process(pid).create_time(), tz=dt.UTC)
    return socket.gethostname(), pid, started


def _process_alive(pid: int, started_at: dt.datetime | None) -> bool:
    try:
        process = psutil.Process(pid)
        created = dt.datetime.fromtimestamp(process.create_time(), tz=dt.UTC)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # it exists, under another user
    if process.status() == psutil.STATUS_ZOMBIE:
        return False
    # A reused pid belongs to a process started after the run's owner.
    return started_at is None or abs((created - started_at).total_seconds()) < 1.0
