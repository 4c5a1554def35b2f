"""Background runs: a run is a set of chunks, each a task on Django's Tasks framework.

**Who enqueues**: ``run_enqueue`` (the admin form, ``generate_synthetic --background``) records
the run (status ``queued``) and its first chunks, and enqueues one task per chunk
(``synthadmin.tasks.run_chunk_task``) on the configured backend (``TASKS``: the database by
default, Redis through RQ with ``SYNTHADMIN_TASK_BACKEND=rq``).

**Who works**: any worker of that backend (``python manage.py synthadmin_worker``, or the
backend's own ``db_worker`` / ``rqworker``) runs ``chunk_run`` for one chunk at a time: the
users ``job_index`` in ``[first, stop)`` of the run, through the very per-user attempt of
``synthadmin.services.generation`` (intent → Auth user → rows or compensation).

**Where progress lives**: in the database — the ledger (``SyntheticUser``: one row per attempt,
with its ``job_index``), ``RunChunk`` (state, worker, heartbeat, counts) and ``SyntheticRun``
(status; counts once finished). ``run_progress`` reads them for the live run page.

Rules:

* **Phase barrier.** Therapist chunks run first; the last one to settle (under a row lock on the
  run) creates and enqueues the patient chunks, exactly once.
* **Therapist reassignment.** Patients are dealt round-robin (``therapist_assignment``) over the
  therapists that were created, **in job order** — so a therapist that failed leaves its
  patients to the others, and the assignment is the same whoever ran which chunk.
* **Same seed, same population.** Names come from ``population_build(seed, run tag)`` and each
  patient's history from ``patient_history(seed, index)``: neither depends on chunks, workers
  or order (ids and e-mails are per run).
* **Idempotent chunks.** A chunk run again skips job indices the ledger has ``complete`` and
  settles entries left ``intent`` first (``purge.intents_resolve``: the Auth user is looked up and
  deleted if it exists), then creates those users afresh.
* **Liveness.** A running chunk records its worker (host, pid, process start) and a heartbeat;
  ``chunks_reap`` re-enqueues a running chunk whose worker died (same host: the process is gone
  or the heartbeat stale; another host: the heartbeat is stale, ``SYNTHADMIN_WORKER_STALE_SECONDS``).
* **Cancel.** ``run_cancel`` sets the run's cancel flag and cancels chunks not started; running
  chunks see the flag at their next heartbeat, start no new user, finish or compensate those in
  flight. The last chunk to settle finishes the run (status from ``ledger.run_status``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import RunChunk, Scenario, SyntheticRun, SyntheticUser, TaskWorker
from synthadmin.services import ledger
from synthadmin.services.generation import (
    Job,
    Starter,
    _Run,
    patient_jobs,
    synthetic_generate,
    therapist_jobs,
)
from synthadmin.services.logins import logins_sink
from synthadmin.services.population import PersonSpec, population_build
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.purge import intents_resolve, synthetic_purge
from synthadmin.services.reports import NullProgress, PurgeReport, RunReport
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate

logger = logging.getLogger(__name__)

Phase = RunChunk.Phase
ChunkState = RunChunk.State
Status = SyntheticRun.Status

#: A chunk whose worker died this many times is given up (settled with an error), not re-run.
CHUNK_MAX_ATTEMPTS = 5
#: The run parameter recording the chunk size the run was enqueued with.
CHUNK_USERS = "chunk_users"
#: How often a running chunk reads its run's cancel flag (seconds).
CANCEL_POLL_SECONDS = 0.25
#: The run parameter that asks the workers to hold every user's login (``services.logins``).
HOLD_LOGINS = "hold_logins"
#: What an operator runs to start a worker (said wherever a run waits for one).
WORKER_COMMAND = "python manage.py synthadmin_worker"

#: This process's worker id, as a worker command sets it; else ``host:pid``.
_worker_id: str | None = None
#: Set when this worker process is asked to stop (SIGTERM, Ctrl-C): a running chunk starts no
#: new user, lets those in flight end, and goes back to the queue for another worker.
worker_shutdown = threading.Event()


def worker_id_set(worker_id: str) -> None:
    """Name this process's worker (``synthadmin_worker`` does, before it works)."""
    global _worker_id
    _worker_id = worker_id


def worker_id() -> str:
    host, pid, _started = ledger.process_identity()
    return _worker_id or f"{host}:{pid}"


# --- enqueueing ----------------------------------------------------------------------------------
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
    auth_preflight()  # the workers would find out one user at a time; say it now, write nothing
    with transaction.atomic():
        run = ledger.run_start(
            kind=SyntheticRun.Kind.GENERATE,
            source=started_by.source,
            started_by=started_by.label,
            started_by_user_id=started_by.user_id,
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


def run_start_or_enqueue(
    *,
    request: GenerationRequest | GenerationParams,
    started_by: Starter,
    scenario: Scenario | None = None,
    max_patients: int | None = None,
    gateway: AuthGateway | None = None,
    hold_logins: bool = False,
) -> tuple[SyntheticRun, RunReport | None]:
    """What the admin form calls: run inline (in this request) when the run is small
    (``SYNTHADMIN_ADMIN_INLINE_PATIENTS`` users at most) and no worker is alive; else enqueue it.
    ``hold_logins``: every user gets a password, held encrypted for one download
    (``services.logins``), inline and in the background alike.

    Returns ``(run, report)``: ``report`` is the finished run's report when it ran inline,
    None when it was enqueued (the run is ``queued``). Raises what ``synthetic_generate`` /
    ``run_enqueue`` raise.
    """
    params = generation_request_validate(request, max_patients=max_patients)
    small = params.patients + params.therapists <= settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS
    if small and not workers_alive():
        report = synthetic_generate(
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


def auth_backend_name() -> str:
    """The Auth backend the workers will use, as the run records it."""
    backend = str(settings.SYNTHADMIN_AUTH_BACKEND)
    return backend if len(backend) <= 16 else backend.rsplit(".", 1)[-1][:16]


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
    from synthadmin.tasks import run_chunk_task

    for chunk in chunks:
        result = run_chunk_task.enqueue(chunk.pk)
        RunChunk.objects.filter(pk=chunk.pk).update(task_id=str(result.id)[:64])


# --- one chunk ------------------------------------------------------------------------------------
def chunk_run(chunk_id: int, *, gateway: AuthGateway | None = None) -> str:
    """Run one chunk (what a task does); return what became of it (``done``, ``cancelled`` or
    ``skipped`` — not queued any more: another worker has it, or it is settled).

    Writes what ``synthetic_generate`` writes for the chunk's users; the chunk's state, worker,
    heartbeat and counts; the run's status when this is its last chunk; the patient chunks when
    this is the last therapist chunk. Re-raises a crash after settling the chunk with it.
    """
    chunk = _chunk_claim(chunk_id)
    if chunk is None:
        return "skipped"
    if chunk.state == ChunkState.CANCELLED:
        return "cancelled"
    worker_touch()
    run = chunk.run
    params = params_of(run)
    stop = threading.Event()  # the worker stops: also ends Auth calls in flight
    cancel = threading.Event()  # the run is cancelled: start no new user, let calls in flight end
    beating = _Heartbeat(chunk, cancel)
    runner: _Run | None = None
    try:
        beating.start()
        with gateway_in_use(gateway, cancel=stop) as auth:
            jobs = _jobs_to_do(chunk, params, auth, stop)
            runner = _Run(
                params=params,
                gateway=auth,
                progress=NullProgress(),
                credentials=logins_sink() if run.parameters.get(HOLD_LOGINS) else None,
                stop=stop,
                halt=cancel,
            )
            if jobs and not cancel.is_set():
                runner.jobs_run(run, jobs)
    except BaseException as exc:
        beating.finish()
        _chunk_settle(chunk, error=f"unexpected error: {type(exc).__name__}: {exc}")
        raise
    beating.finish()
    if (
        worker_shutdown.is_set()
        and not SyntheticRun.objects.filter(pk=run.pk, cancel_requested_at__isnull=False).exists()
    ):
        _chunk_requeue(chunk, why="its worker was stopped", died=False)
        return "requeued"
    diagnosis = runner.abort if runner is not None else ""
    if runner is not None and runner.database_lost is not None:
        diagnosis = diagnosis or f"the database connection was lost ({type(runner.database_lost).__name__})"
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
            transaction.on_commit(lambda: _run_settle(chunk.run_id))
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


def params_of(run: SyntheticRun) -> GenerationParams:
    """The validated parameters a run recorded (``GenerationParams.as_parameters``)."""
    names = {f.name for f in dataclasses.fields(GenerationParams)}
    values = {k: v for k, v in run.parameters.items() if k in names}
    values["end_date"] = dt.date.fromisoformat(values["end_date"])
    values.setdefault("mix", None)
    return GenerationParams(**values)


@functools.lru_cache(maxsize=4)
def _population(
    seed: int, run_tag: str, therapists: int, patients: int, locale: str, domain: str
) -> tuple[list[PersonSpec], list[PersonSpec]]:
    # Built once per worker process and run: every chunk of the run slices the same population.
    return population_build(
        seed=seed,
        run_tag=run_tag,
        therapists=therapists,
        patients=patients,
        locale=locale,
        email_domain=domain,
    )


_population_lock = threading.Lock()


def _jobs(chunk: RunChunk, params: GenerationParams) -> list[Job]:
    """The chunk's jobs, exactly as the whole run's jobs would be (same specs, histories and
    therapist assignment)."""
    run = chunk.run
    with _population_lock:  # factory_boy's random state is global
        therapists, patients = _population(
            params.seed,
            run.tag,
            params.therapists,
            params.patients,
            params.locale,
            settings.SYNTHADMIN_EMAIL_DOMAIN,
        )
    if chunk.phase == Phase.THERAPISTS:
        return therapist_jobs(therapists)[chunk.first : chunk.stop]
    therapist_ids = list(
        run.users.filter(role=SyntheticUser.Role.THERAPIST, state=SyntheticUser.State.COMPLETE)
        .order_by("job_index")
        .values_list("user_id", flat=True)
    )
    offset = params.therapists  # patients' job indices follow the therapists'
    return patient_jobs(params, patients, therapist_ids)[chunk.first - offset : chunk.stop - offset]


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
    return [job for job in _jobs(chunk, params) if job.spec.number not in skip]


def _chunk_settle(chunk: RunChunk, *, error: str = "") -> None:
    """The chunk is done: its counts from the ledger; a diagnosis stops the run; then the run
    moves on (patient chunks, or its end)."""
    try:
        counts = _ledger_counts(chunk.run, first=chunk.first, stop=chunk.stop)
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
        _run_settle(chunk.run_id)
    except DatabaseError:
        # The database is gone: the chunk stays running, its heartbeat goes stale, the reaper
        # re-enqueues it when the database is back.
        connections["default"].close()
        logger.exception("could not record the end of chunk %s", chunk.pk)


def _run_settle(run_id: uuid.UUID) -> None:
    """Under a row lock on the run: when no chunk is queued or running, either start the
    patient phase (exactly once) or finish the run from its ledger."""
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


@dataclass(frozen=True)
class _Counts:
    created: int
    patients: int
    therapists: int
    failed: int
    checkins: int
    first_failure: str


def _ledger_counts(
    run: SyntheticRun, *, first: int = 0, stop: int | None = None, final: bool = True
) -> _Counts:
    """Users created and failed, check-ins, from the ledger. A user failed when no attempt of it
    is complete (``final``) — and, while the run goes on, none is still in flight."""
    entries = run.users.filter(job_index__gte=first)
    if stop is not None:
        entries = entries.filter(job_index__lt=stop)
    # (Not ``purged``: an intent settled by a chunk re-run is purged too, and a background run is
    # purged only once it has ended, its counts recorded.)
    complete = Q(state=SyntheticUser.State.COMPLETE)
    # An attempt a stop ended before anything was sent (a worker's SIGTERM, a cancel: the
    # gateways' AuthCancelledError, "stopped while/before …", recorded ``failed``) is not a
    # failure of the user: it was never tried. A user with only such attempts is not counted.
    never_tried = Q(state=SyntheticUser.State.FAILED, failure_reason__startswith="stopped ")
    per_user = entries.values("job_index", "role").annotate(
        done=Count("id", filter=complete),
        open=Count("id", filter=Q(state=SyntheticUser.State.INTENT)),
        tried=Count("id", filter=~never_tried),
    )
    failed = per_user.filter(done=0, tried__gt=0)
    failed = failed if final else failed.filter(open=0)
    roles = Counter(row["role"] for row in per_user.filter(done__gt=0))
    checkins = entries.filter(complete).aggregate(n=Sum("checkins"))["n"] or 0
    failed_indices = [row["job_index"] for row in failed]
    first_failure = ""
    if failed_indices:
        last = (
            entries.filter(job_index__in=failed_indices)
            .exclude(failure_reason="")
            .order_by("job_index", "-id")
            .values_list("failure_reason", flat=True)
            .first()
        )
        first_failure = last or "the user could not be created"
    return _Counts(
        created=roles.total(),
        patients=roles["patient"],
        therapists=roles["therapist"],
        failed=len(failed_indices),
        checkins=checkins,
        first_failure=first_failure,
    )


def _run_finish(run: SyntheticRun) -> None:
    counts = _ledger_counts(run)
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


# --- cancel ------------------------------------------------------------------------------------
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
        locked.chunks.filter(state=ChunkState.QUEUED).update(
            state=ChunkState.CANCELLED, finished_at=timezone.now()
        )
    _run_settle(run.pk)
    run.refresh_from_db()
    return run


def purge_start_or_enqueue(*, run: SyntheticRun, by: str) -> PurgeReport | None:
    """The admin's "Purge this run": in the request when the run is small (at most
    ``SYNTHADMIN_ADMIN_INLINE_PATIENTS`` users whose Auth user may exist) and not in progress, or
    when no worker is alive; else a task (``synthadmin.tasks.purge_run_task``) — a run in
    progress is cancelled at once (``by``), and the task purges it once it has stopped.

    Returns the purge report, or None when the purge was enqueued. Raises what
    ``synthetic_purge`` raises.
    """
    from synthadmin.selectors import entries_live
    from synthadmin.tasks import purge_run_task

    in_progress = run.background and run.status in (Status.QUEUED, Status.RUNNING)
    large = entries_live(run=run.pk).count() > settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS
    if (large or in_progress) and workers_alive():
        if in_progress:
            run_cancel(run=run, by=by)
        purge_run_task.enqueue(str(run.pk))
        return None
    return synthetic_purge(run=run.pk)


def users_delete(*, user_ids: list[uuid.UUID], logged_by: int | None = None) -> PurgeReport:
    """Delete these synthetic users (``synthetic_purge(user_ids=...)``: real users in the list are
    named and left alone) and record each deleted profile in the admin's history as a deletion by
    the staff user ``logged_by`` (``django.contrib.admin`` ``LogEntry``). What the Profiles
    list's "Delete selected synthetic users" does, in the request or in a task.

    Raises what ``synthetic_purge`` raises, before anything is deleted.
    """
    from django.contrib.admin.models import DELETION, LogEntry

    from profiles.models import Profile

    # Read before the rows go (the history keeps each profile's name); logged after, only those
    # the purge reports deleted.
    before = {str(p.pk): p for p in Profile.objects.filter(id__in=user_ids)}
    report = synthetic_purge(user_ids=user_ids)
    deleted = [before[i] for i in report.deleted_user_ids if i in before]
    if logged_by is not None and deleted:
        LogEntry.objects.log_actions(logged_by, deleted, DELETION)
    return report


def users_delete_start_or_enqueue(*, user_ids: list[uuid.UUID], logged_by: int | None) -> PurgeReport | None:
    """``users_delete`` in the request when at most ``SYNTHADMIN_ADMIN_INLINE_PATIENTS`` users are
    selected or no worker is alive; else a task (``synthadmin.tasks.delete_users_task``) — the
    rule of "Purge this run" (``purge_start_or_enqueue``). Returns the report, or None when the
    deletion was enqueued."""
    from synthadmin.tasks import delete_users_task

    if len(user_ids) > settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS and workers_alive():
        delete_users_task.enqueue([str(u) for u in user_ids], logged_by)
        return None
    return users_delete(user_ids=user_ids, logged_by=logged_by)


def runs_stop_before_purge(*, run: uuid.UUID | None) -> None:
    """Purging a background run in progress cancels it first (``run``, or every run when None)
    and waits, at most ``SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS``, for its workers to finish or
    compensate the users in flight. Chunks whose worker died are settled on the way.

    Raises InvalidRequestError when a run is still stopping after the wait (purge it again then).
    """
    runs = SyntheticRun.objects.filter(background=True, status__in=[Status.QUEUED, Status.RUNNING])
    if run is not None:
        runs = runs.filter(pk=run)
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


def run_wait(run: SyntheticRun, *, timeout: float) -> SyntheticRun:
    """Wait until a background run is neither queued nor running (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        run.refresh_from_db()
        if run.status not in (Status.QUEUED, Status.RUNNING) or time.monotonic() >= deadline:
            return run
        time.sleep(0.2)


# --- workers, liveness, reaper -----------------------------------------------------------------
def worker_touch(*, backend: str = "") -> None:
    """Record this process as a live worker (a heartbeat)."""
    host, pid, started = ledger.process_identity()
    defaults = {"host": host, "pid": pid, "process_started_at": started, "heartbeat_at": timezone.now()}
    if backend:
        defaults["backend"] = backend
    TaskWorker.objects.update_or_create(worker_id=worker_id(), defaults={**defaults, "stopped_at": None})


def worker_stopped() -> None:
    """This process's worker stops (a clean exit)."""
    TaskWorker.objects.filter(worker_id=worker_id()).update(stopped_at=timezone.now())


def workers_alive() -> list[TaskWorker]:
    """Workers of this process's task backend (``SYNTHADMIN_TASK_BACKEND``; a worker of the
    other backend will never see this process's tasks) whose heartbeat is fresh
    (``SYNTHADMIN_WORKER_STALE_SECONDS``) and, on this host, whose process still runs."""
    host, _pid, _started = ledger.process_identity()
    fresh = timezone.now() - dt.timedelta(seconds=settings.SYNTHADMIN_WORKER_STALE_SECONDS)
    candidates = TaskWorker.objects.filter(stopped_at__isnull=True, heartbeat_at__gte=fresh).filter(
        Q(backend=settings.SYNTHADMIN_TASK_BACKEND) | Q(backend="")
    )
    return [w for w in candidates if w.host != host or ledger.process_alive(w.pid, w.process_started_at)]


def chunks_reap() -> list[RunChunk]:
    """Re-enqueue every running chunk whose worker died; return them.

    Same host: its process is gone (at once) or its heartbeat is stale. Another host: its
    heartbeat is older than ``SYNTHADMIN_WORKER_STALE_SECONDS``. A chunk whose workers died
    ``CHUNK_MAX_ATTEMPTS`` times is settled with an error instead (the run then fails).
    """
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
        locked = (
            RunChunk.objects.select_for_update(skip_locked=True)
            .filter(pk=chunk.pk, state=ChunkState.RUNNING, attempts=chunk.attempts)
            .first()
        )
        if locked is None:
            return False
        who = f"{locked.worker_id} (pid {locked.worker_pid} on {locked.worker_host})"
        if died:
            _task_result_failed(locked.task_id, f"chunk {locked.pk}: its worker {who} died")
        if SyntheticRun.objects.filter(pk=locked.run_id, cancel_requested_at__isnull=False).exists():
            # The run is being cancelled: nothing more to do for this chunk.
            locked.state, locked.finished_at = ChunkState.CANCELLED, timezone.now()
            locked.save(update_fields=["state", "finished_at"])
            transaction.on_commit(lambda: _run_settle(locked.run_id))
            return True
        if died and locked.attempts >= CHUNK_MAX_ATTEMPTS:
            locked.state, locked.finished_at = ChunkState.DONE, timezone.now()
            locked.error = f"its worker died {locked.attempts} times; last {who}"
            locked.save()
            ledger.run_stop_request(locked.run_id, f"stopped: {locked.error}")
            transaction.on_commit(lambda: _run_settle(locked.run_id))
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
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    try:
        uuid.UUID(task_id)
    except ValueError:
        return
    for result in DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING):
        result.set_failed(WorkerDiedError(why))


class _Heartbeat:
    """While a chunk runs: its heartbeat (and its worker's), and the run's cancel flag → stop."""

    def __init__(self, chunk: RunChunk, cancel: threading.Event) -> None:
        self.chunk = chunk
        self.cancel = cancel
        self.done = threading.Event()
        self.last = 0.0
        self.thread = threading.Thread(target=self._loop, name="synthadmin-chunk-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()
        self.thread.start()

    def finish(self) -> None:
        self.done.set()
        self.thread.join()

    def _loop(self) -> None:
        try:
            # The cancel flag is read every CANCEL_POLL_SECONDS (one primary-key lookup), not only
            # at heartbeats: a chunk of 100 users can finish in a second on the local backend.
            while not self.done.wait(CANCEL_POLL_SECONDS):
                if worker_shutdown.is_set() or self._cancel_requested():
                    self.cancel.set()
                if time.monotonic() - self.last >= settings.SYNTHADMIN_WORKER_HEARTBEAT_SECONDS:
                    self._beat()
        finally:
            connections.close_all()

    def _cancel_requested(self) -> bool:
        try:
            cancelled = SyntheticRun.objects.filter(pk=self.chunk.run_id, cancel_requested_at__isnull=False)
            return cancelled.exists()
        except DatabaseError:  # a lost database is reported by the writes that need it
            connections["default"].close()
            return False

    def _beat(self) -> None:
        self.last = time.monotonic()
        try:
            now = timezone.now()
            RunChunk.objects.filter(pk=self.chunk.pk, state=ChunkState.RUNNING).update(heartbeat_at=now)
            SyntheticRun.objects.filter(pk=self.chunk.run_id).update(heartbeat_at=now)
            TaskWorker.objects.filter(worker_id=worker_id()).update(heartbeat_at=now)
            if (
                worker_shutdown.is_set()
                or SyntheticRun.objects.filter(
                    pk=self.chunk.run_id, cancel_requested_at__isnull=False
                ).exists()
            ):
                self.cancel.set()
        except DatabaseError:  # a lost database is reported by the writes that need it
            connections["default"].close()
            logger.warning("chunk %s: heartbeat not recorded", self.chunk.pk, exc_info=True)


# --- progress ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunProgress:
    """What the live run page shows (``as_dict`` is its JSON)."""

    status: str
    status_display: str
    finished: bool
    users_done: int
    users_total: int
    checkins_done: int
    checkins_total: int  # while running, about: days x adherence per patient; ended: exact
    failures: int
    rate: float | None  # users per second since the first chunk started (ended: over the run)
    eta_seconds: float | None
    chunks: dict[str, int]
    workers_alive: int
    cancel_requested: bool
    message: str

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def run_progress(run: SyntheticRun) -> RunProgress:
    """Where a run stands, from the ledger and its chunks (cheap: indexed counts)."""
    run.refresh_from_db()
    params = run.parameters or {}
    patients, therapists = int(params.get("patients", 0)), int(params.get("therapists", 0))
    days, adherence = int(params.get("checkin_days", 0)), float(params.get("adherence", 1.0))
    finished = run.status not in (Status.QUEUED, Status.RUNNING)
    if finished:
        done = run.patients_created + run.therapists_created
        checkins, failures = run.checkins_created, run.users_failed
    else:
        counts = _ledger_counts(run, final=False)
        done, checkins, failures = counts.created, counts.checkins, counts.failed
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
    total = patients + therapists
    rate = eta = None
    end = run.finished_at if finished and run.finished_at else timezone.now()
    if started is not None and done and (finished or alive):  # nothing progresses without a worker
        elapsed = max((end - started).total_seconds(), 1e-3)
        rate = done / elapsed
        eta = None if finished else max(total - done - failures, 0) / rate
    message = ""
    if run.status == Status.QUEUED and not alive:
        message = f"queued — no worker has picked it up; start one with: {WORKER_COMMAND}"
    elif run.status == Status.QUEUED:
        message = "queued — waiting for a worker"
    elif not finished and run.cancel_requested_at is not None:
        message = "cancelling — users in flight are being finished or compensated"
    elif not finished and not alive and run.background:
        message = f"running, but no worker is alive; start one with: {WORKER_COMMAND}"
    elif finished and run.error_summary:
        message = run.error_summary
    return RunProgress(
        status=str(run.status),
        status_display=run.display_status,
        finished=finished,
        users_done=done,
        users_total=total,
        checkins_done=checkins,
        # While it runs, about: days x adherence per patient; once it has ended, what was made.
        checkins_total=checkins if finished else round(patients * days * adherence),
        failures=failures,
        rate=round(rate, 2) if rate is not None else None,
        eta_seconds=round(eta, 1) if eta is not None else None,
        chunks={str(k): int(v) for k, v in chunk_states.items()},
        workers_alive=alive,
        cancel_requested=run.cancel_requested_at is not None,
        message=message,
    )


def run_chunks(run: SyntheticRun) -> Iterator[RunChunk]:
    """A run's chunks, in job order."""
    return iter(run.chunks.order_by("first"))


__all__ = [
    "CHUNK_MAX_ATTEMPTS",
    "WORKER_COMMAND",
    "RunProgress",
    "chunk_run",
    "chunks_reap",
    "run_cancel",
    "run_enqueue",
    "run_progress",
    "run_start_or_enqueue",
    "run_wait",
    "worker_touch",
    "workers_alive",
]
