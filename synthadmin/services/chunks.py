"""Background runs, chunk by chunk: enqueue, claim, run, settle, the phase barrier, requeue, reap.

A background run is a set of ``RunChunk`` rows, each one task (``run_chunk_task``) on the
configured backend (``TASKS``: the database by default, RQ on Redis). A chunk creates the users
``job_index`` in ``[first, stop)`` with the per-user attempt of an inline run
(``services.user_creation``). Therapist chunks come first; the last to settle, under a row lock
on the run, enqueues the patient chunks exactly once, or finishes the run from its ledger
(``ledger.run_counts``). A chunk run again skips users the ledger has complete and settles the
intents an earlier attempt left; a running chunk whose worker died is enqueued again
(``chunks_reap``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.logs import run_log_bind, run_logged
from synthadmin.models import RunChunk, Scenario, SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.jobs import Job, chunk_jobs
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import logins_sink
from synthadmin.services.population import population_names_check
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.purge import intents_resolve
from synthadmin.services.reports import NullProgress
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate
from synthadmin.services.task_queue import QUEUE_ERRORS, BackendUnreachable, backend_name, chunks_lost
from synthadmin.services.user_creation import UserCreation
from synthadmin.services.workers import ChunkHeartbeat, worker_id, worker_shutdown, worker_touch
from synthadmin.target import RUN_MAX_AGE, target_get

logger = logging.getLogger(__name__)

Phase = RunChunk.Phase
ChunkState = RunChunk.State
Status = SyntheticRun.Status

#: A chunk whose worker died this many times is given up (settled with an error), not re-run.
CHUNK_MAX_ATTEMPTS = 5
#: The run parameter recording the chunk size the run was enqueued with.
CHUNK_USERS = "chunk_users"
#: The run parameter that asks the workers to hold every user's login (``services.logins``).
HOLD_LOGINS = "hold_logins"


def run_enqueue(
    *,
    request: GenerationRequest | GenerationParams,
    started_by: Starter,
    scenario: Scenario | None = None,
    max_patients: int | None = None,
    hold_logins: bool = False,
) -> SyntheticRun:
    """Record a background run (status ``queued``) and enqueue its first chunks; return the run.
    ``hold_logins`` (recorded in the run's parameters): the workers give every user a password
    and hold it encrypted for one download (``services.logins``).

    Writes: one ``SyntheticRun`` (``background``), its therapist chunks — or, without
    therapists, its patient chunks — of ``SYNTHADMIN_CHUNK_USERS`` users each, and one task per
    chunk (enqueued once the transaction commits). Creates no user: workers do.
    Raises InvalidRequestError for a bad parameter and ConfigurationError when the Auth service
    cannot be used as configured (``services.preflight``: unreachable, the key refused, not
    Supabase Auth), both before anything is written or enqueued.
    """
    params = generation_request_validate(request, max_patients=max_patients)
    population_names_check(locale=params.locale)
    auth_preflight()  # the workers would find out one user at a time; say it now, write nothing
    with transaction.atomic():
        run = ledger.run_start(
            kind=SyntheticRun.Kind.GENERATE,
            started_by=started_by,
            parameters={
                **params.as_parameters(),
                CHUNK_USERS: settings.SYNTHADMIN_CHUNK_USERS,
                **({HOLD_LOGINS: True} if hold_logins else {}),
            },
            seed=params.seed,
            auth_backend=auth_backend_name(),
            scenario=scenario,
            background=True,
        )
        if params.therapists:
            _chunks_add(run, Phase.THERAPISTS, 0, params.therapists)
        else:
            _chunks_add(run, Phase.PATIENTS, 0, params.patients)
    return run


def auth_backend_name() -> str:
    """The Auth backend the workers will use, as the run records it."""
    backend = str(settings.SYNTHADMIN_AUTH_BACKEND)
    return backend if len(backend) <= 16 else backend.rsplit(".", 1)[-1][:16]


def params_of(run: SyntheticRun) -> GenerationParams:
    """The validated parameters a run recorded (``GenerationParams.as_parameters``)."""
    names = {f.name for f in dataclasses.fields(GenerationParams)}
    values = {k: v for k, v in run.parameters.items() if k in names}
    values["end_date"] = dt.date.fromisoformat(values["end_date"])
    values.setdefault("mix", None)
    return GenerationParams(**values)


def _chunks_add(run: SyntheticRun, phase: str, offset: int, count: int) -> list[RunChunk]:
    """Create the chunks of ``count`` users from job index ``offset``; enqueue them on commit.
    The chunk size is the one the run was enqueued with (``parameters["chunk_users"]``), so the
    patient chunks a worker adds after the therapists follow the enqueuer's setting."""
    size = int(run.parameters.get(CHUNK_USERS, settings.SYNTHADMIN_CHUNK_USERS))
    chunks = RunChunk.objects.bulk_create(
        [
            RunChunk(run=run, phase=phase, first=first, stop=min(first + size, offset + count))
            for first in range(offset, offset + count, size)
        ]
    )
    transaction.on_commit(lambda: _enqueue(chunks))
    return chunks


def _enqueue(chunks: list[RunChunk]) -> None:
    """Enqueue a task per chunk and record its id. A backend that does not answer (Redis down)
    leaves the chunk queued without a new task: the reaper enqueues it once it answers
    (``task_queue.chunks_lost``), so the run never waits on a task that was never made."""
    for chunk in chunks:
        try:
            task_id = _task_enqueue(chunk)
        except QUEUE_ERRORS as exc:
            logger.warning(
                "chunk %s of run %s not enqueued: %s does not answer (%s); the reaper enqueues it later",
                chunk.pk,
                chunk.run_id,
                backend_name(),
                type(exc).__name__,
            )
            continue
        RunChunk.objects.filter(pk=chunk.pk).update(task_id=task_id)


def _task_enqueue(chunk: RunChunk) -> str:
    return str(run_chunk_task.enqueue(chunk.pk).id)[:64]


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def run_chunk_task(chunk_id: int) -> str:
    """Run one chunk of a background run (``chunk_run``); returns what became of it."""
    return chunk_run(chunk_id)


@run_logged()
def chunk_run(chunk_id: int, *, gateway: AuthGateway | None = None) -> str:
    """Run one chunk (what a task does); return what became of it (``done``, ``cancelled``,
    ``requeued`` — its worker was stopped — or ``skipped``: not queued any more, another worker
    has it, or it is settled).

    Writes what ``population_generate`` writes for the chunk's users; the chunk's state, worker,
    heartbeat and counts; the run's status when this is its last chunk; the patient chunks when
    this is the last therapist chunk. Re-raises a crash after settling the chunk with it.
    """
    chunk = _chunk_claim(chunk_id)
    if chunk is None:
        return "skipped"
    run_log_bind(chunk.run_id)
    if chunk.state == ChunkState.CANCELLED:
        return "cancelled"
    worker_touch()
    run = chunk.run
    params = params_of(run)
    stop = threading.Event()  # the worker stops: also ends Auth calls in flight
    wind_down = threading.Event()  # the run is cancelled: start no new user, let calls in flight end
    heartbeat = ChunkHeartbeat(chunk, wind_down)
    creation: UserCreation | None = None
    try:
        heartbeat.start()
        with gateway_in_use(gateway, cancel=stop) as auth:
            jobs = _jobs_to_do(chunk, params, auth, stop)
            if jobs and not wind_down.is_set():
                creation = UserCreation(
                    run=run,
                    target=target_get(max_age=RUN_MAX_AGE),
                    params=params,
                    gateway=auth,
                    progress=NullProgress(),
                    credentials=logins_sink() if run.parameters.get(HOLD_LOGINS) else None,
                    stop=stop,
                    wind_down=wind_down,
                )
                creation.users_create(jobs)
    except BaseException as exc:
        heartbeat.finish()
        _chunk_settle(chunk, error=f"unexpected error: {type(exc).__name__}: {exc}")
        raise
    heartbeat.finish()
    if (
        worker_shutdown.is_set()
        and not SyntheticRun.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists()
    ):
        _chunk_requeue(chunk, why="its worker was stopped", died=False)
        return "requeued"
    diagnosis = creation.diagnosis if creation is not None else ""
    if creation is not None and creation.database_lost is not None:
        lost = creation.database_lost
        diagnosis = diagnosis or f"the database connection was lost ({type(lost).__name__})"
    _chunk_settle(chunk, error=diagnosis)
    return "done"


def _chunk_claim(chunk_id: int) -> RunChunk | None:
    """Take a queued chunk for this process (None if it is not queued); a cancelled run's
    chunk is settled ``cancelled`` instead."""
    host, pid, started = ledger.process_identity()
    with transaction.atomic():
        chunk = RunChunk.objects.select_for_update().select_related("run").filter(pk=chunk_id).first()
        if chunk is None or chunk.state != ChunkState.QUEUED:
            return None
        now = timezone.now()
        if chunk.run.cancel_requested_at is not None:
            chunk.state, chunk.finished_at = ChunkState.CANCELLED, now
            chunk.save(update_fields=["state", "finished_at"])
            transaction.on_commit(lambda: run_settle(chunk.run_id))
            return chunk
        chunk.state = ChunkState.RUNNING
        chunk.worker_id, chunk.worker_host, chunk.worker_pid, chunk.worker_started_at = (
            worker_id(),
            host,
            pid,
            started,
        )
        chunk.heartbeat_at = chunk.started_at = now
        chunk.attempts += 1
        chunk.save()
        ledger.run_mark_running(chunk.run_id)
    return chunk


def _jobs_to_do(
    chunk: RunChunk, params: GenerationParams, gateway: AuthGateway, stop: threading.Event
) -> list[Job]:
    """The chunk's jobs the ledger does not have complete; intents an earlier attempt left are
    settled first (a user that cannot be settled is not tried again: it may exist)."""
    entries = chunk.run.users.filter(job_index__gte=chunk.first, job_index__lt=chunk.stop)
    complete = set(entries.filter(state=SyntheticUser.State.COMPLETE).values_list("job_index", flat=True))
    intents = list(entries.filter(state=SyntheticUser.State.INTENT).exclude(job_index__in=complete))
    unsettled: set[int] = set()
    if intents:
        errors = intents_resolve(entries=intents, gateway=gateway, stop=stop)
        unsettled = {e.job_index for e in intents if e.user_id in errors and e.job_index is not None}
    skip = complete | unsettled
    return [
        job for job in chunk_jobs(run=chunk.run, params=params, chunk=chunk) if job.spec.number not in skip
    ]


def _chunk_settle(chunk: RunChunk, *, error: str = "") -> None:
    """The chunk is done: its counts from the ledger; a diagnosis stops the run; then the run
    moves on (patient chunks, or its end)."""
    try:
        counts = ledger.run_counts(chunk.run, first=chunk.first, stop=chunk.stop)
        RunChunk.objects.filter(pk=chunk.pk, state=ChunkState.RUNNING, attempts=chunk.attempts).update(
            state=ChunkState.DONE,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error=error[:2000],
            users_created=counts.created,
            users_failed=counts.failed,
            checkins_created=counts.checkins,
        )
        if error:
            ledger.run_stop_request(chunk.run_id, f"stopped: {error}")
        run_settle(chunk.run_id)
    except DatabaseError:
        # The database is gone: the chunk stays running, its heartbeat goes stale, the reaper
        # re-enqueues it when the database is back.
        connections["default"].close()
        logger.exception("could not record the end of chunk %s", chunk.pk)


def run_settle(run_id: uuid.UUID) -> None:
    """Under a row lock on the run: when no chunk is queued or running, either start the
    patient phase (exactly once) or finish the run from its ledger.

    Writes: the run's counts so far (chunks still at work), its patient chunks, or its end.
    """
    with transaction.atomic():
        run = SyntheticRun.objects.select_for_update().get(pk=run_id)
        if run.status not in (Status.QUEUED, Status.RUNNING):
            return
        if run.chunks.filter(state__in=[ChunkState.QUEUED, ChunkState.RUNNING]).exists():
            _run_counts_so_far(run)  # what list_runs and the runs list show meanwhile
            return
        params = params_of(run)
        stopping = run.cancel_requested_at is not None
        if params.patients and not stopping and not run.chunks.filter(phase=Phase.PATIENTS).exists():
            _chunks_add(run, Phase.PATIENTS, params.therapists, params.patients)
            return
        _run_finish(run)


def _run_counts_so_far(run: SyntheticRun) -> None:
    """A running run's counts: the sums of its finished chunks."""
    sums = run.chunks.filter(state=ChunkState.DONE).aggregate(
        patients=Sum("users_created", filter=Q(phase=Phase.PATIENTS)),
        therapists=Sum("users_created", filter=Q(phase=Phase.THERAPISTS)),
        checkins=Sum("checkins_created"),
        failed=Sum("users_failed"),
    )
    SyntheticRun.objects.filter(pk=run.pk).update(
        patients_created=sums["patients"] or 0,
        therapists_created=sums["therapists"] or 0,
        checkins_created=sums["checkins"] or 0,
        users_failed=sums["failed"] or 0,
    )


def _run_finish(run: SyntheticRun) -> None:
    counts = ledger.run_counts(run)
    diagnosis = (
        run.chunks.exclude(error="").order_by("finished_at").values_list("error", flat=True).first() or ""
    )
    status, error = ledger.run_status(
        ledger.RunOutcome(
            abort=diagnosis,
            stopped=run.cancel_requested_at is not None and not diagnosis,
            failures=counts.failed,
            first_failure=counts.first_failure,
            created=counts.created,
        )
    )
    if status == Status.ABORTED and run.cancel_requested_by:
        error = f"cancelled by {run.cancel_requested_by}; users in flight were finished or compensated"
    ledger.run_finish(
        run,
        status=status,
        error=error,
        users_failed=counts.failed,
        patients_created=counts.patients,
        therapists_created=counts.therapists,
        checkins_created=counts.checkins,
    )


def chunks_reap() -> list[RunChunk]:
    """Re-enqueue every running chunk whose worker died, and every queued chunk whose task the
    backend lost (``chunks_requeue_lost``); return them.

    Same host: its process is gone (at once) or its heartbeat is stale. Another host: its
    heartbeat is older than ``SYNTHADMIN_WORKER_STALE_SECONDS``. A chunk whose workers died
    ``CHUNK_MAX_ATTEMPTS`` times is settled with an error instead (the run then fails).
    """
    return _chunks_reap_dead() + chunks_requeue_lost()


def chunks_requeue_lost() -> list[RunChunk]:
    """Enqueue again every queued chunk whose task the backend has lost (``task_queue``: no job
    in Redis after a restart or FLUSHDB, a deleted or ended task row...); a cancelled run's is
    settled cancelled instead. Nothing while the backend does not answer. Returns them.

    Each time counts as an attempt: a chunk lost (or failing before it runs) ``CHUNK_MAX_ATTEMPTS``
    times is given up, with an error that stops the run, rather than enqueued for ever.
    """
    queued = list(RunChunk.objects.filter(state=ChunkState.QUEUED).order_by("run_id", "first"))
    if not queued:
        return []
    try:
        lost = chunks_lost(queued)
    except BackendUnreachable:
        return []  # not known: never a guess (the worker says the outage once)
    return [chunk for chunk in queued if chunk.pk in lost and _chunk_requeue_lost(chunk, why=lost[chunk.pk])]


def _chunk_locked(chunk: RunChunk, **unchanged: Any) -> RunChunk | None:
    """``chunk`` under a row lock (inside the caller's transaction), if no one else holds it and
    it still is as ``unchanged`` says; else None."""
    return RunChunk.objects.select_for_update(skip_locked=True).filter(pk=chunk.pk, **unchanged).first()


def _chunk_requeue_lost(chunk: RunChunk, *, why: str) -> bool:
    """Under a row lock on the chunk, still queued with the same task: enqueue a new task and
    record it in the same transaction (no second reaper can enqueue it twice)."""
    try:
        with transaction.atomic():
            locked = _chunk_locked(chunk, state=ChunkState.QUEUED, task_id=chunk.task_id)
            if locked is None:
                return False
            now = timezone.now()
            if SyntheticRun.objects.filter(pk=locked.run_id, cancel_requested_at__isnull=False).exists():
                locked.state, locked.finished_at = ChunkState.CANCELLED, now
                locked.save(update_fields=["state", "finished_at"])
                transaction.on_commit(lambda: run_settle(locked.run_id))
                return True
            locked.attempts += 1
            if locked.attempts >= CHUNK_MAX_ATTEMPTS:
                locked.state, locked.finished_at = ChunkState.DONE, now
                locked.error = f"its task was lost {locked.attempts} times; last: {why}"
                locked.save()
                ledger.run_stop_request(locked.run_id, f"stopped: {locked.error}")
                transaction.on_commit(lambda: run_settle(locked.run_id))
                return True
            _task_result_failed(locked.task_id, f"chunk {locked.pk}: {why}")
            locked.task_id = _task_enqueue(locked)
            locked.save(update_fields=["task_id", "attempts"])
            logger.warning("chunk %s of run %s: %s; enqueued again", locked.pk, locked.run_id, why)
    except QUEUE_ERRORS:
        return False  # the backend stopped answering meanwhile: next time
    return True


def _chunks_reap_dead() -> list[RunChunk]:
    host, _pid, _started = ledger.process_identity()
    stale = timezone.now() - dt.timedelta(seconds=settings.SYNTHADMIN_WORKER_STALE_SECONDS)
    reaped = []
    for chunk in RunChunk.objects.filter(state=ChunkState.RUNNING):
        beat_stale = chunk.heartbeat_at is None or chunk.heartbeat_at < stale
        if chunk.worker_host == host and chunk.worker_pid:
            dead = beat_stale or not ledger.process_alive(chunk.worker_pid, chunk.worker_started_at)
        else:
            dead = beat_stale
        if dead and _chunk_requeue(chunk, why="its worker died"):
            reaped.append(chunk)
    return reaped


def _chunk_requeue(chunk: RunChunk, *, why: str, died: bool = True) -> bool:
    """Put a running chunk back in the queue (a cancelled run's: cancel it). ``died``: its worker
    died, which counts against ``CHUNK_MAX_ATTEMPTS`` (a clean stop does not)."""
    with transaction.atomic():
        locked = _chunk_locked(chunk, state=ChunkState.RUNNING, attempts=chunk.attempts)
        if locked is None:
            return False
        who = f"{locked.worker_id} (pid {locked.worker_pid} on {locked.worker_host})"
        if died:
            _task_result_failed(locked.task_id, f"chunk {locked.pk}: its worker {who} died")
        if SyntheticRun.objects.filter(pk=locked.run_id, cancel_requested_at__isnull=False).exists():
            # The run is being cancelled: nothing more to do for this chunk.
            locked.state, locked.finished_at = ChunkState.CANCELLED, timezone.now()
            locked.save(update_fields=["state", "finished_at"])
            transaction.on_commit(lambda: run_settle(locked.run_id))
            return True
        if died and locked.attempts >= CHUNK_MAX_ATTEMPTS:
            locked.state, locked.finished_at = ChunkState.DONE, timezone.now()
            locked.error = f"its worker died {locked.attempts} times; last {who}"
            locked.save()
            ledger.run_stop_request(locked.run_id, f"stopped: {locked.error}")
            transaction.on_commit(lambda: run_settle(locked.run_id))
            return True
        logger.warning("chunk %s of run %s: %s, %s; enqueued again", locked.pk, locked.run_id, why, who)
        locked.state = ChunkState.QUEUED
        if not died:
            locked.attempts -= 1
        locked.save(update_fields=["state", "attempts"])
        transaction.on_commit(lambda: _enqueue([locked]))
    return True


class WorkerDiedError(RuntimeError):
    """What a task's result records when its worker died running it (the reaper's finding)."""


def _task_result_failed(task_id: str, why: str) -> None:
    """The database backend's record of a task whose worker died says so (failed, not running
    for ever). Neither backend notices by itself; RQ's own job registry ages the job out."""
    if settings.SYNTHADMIN_TASK_BACKEND != "db" or not task_id:
        return
    try:
        uuid.UUID(task_id)
    except ValueError:
        return
    for result in DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING):
        result.set_failed(WorkerDiedError(why))


__all__ = [
    "CHUNK_MAX_ATTEMPTS",
    "WorkerDiedError",
    "chunk_run",
    "chunks_reap",
    "chunks_requeue_lost",
    "params_of",
    "run_chunk_task",
    "run_enqueue",
    "run_settle",
]
