"""Stopping runs: a cooperative cancel, waiting for it, and a purge that stops first.

A cancel sets the run's flag and cancels the chunks not started; running chunks see the flag
within a fraction of a second (``workers.ChunkHeartbeat``), start no new user, and finish or
compensate those in flight; the last of them finishes the run (``chunks.run_settle``). A run
going inline in some process — a generation, or an addition of check-in days ("Extend to
today", "Add check-in days": an ``extend`` run of its own) — sees the same flag the same way
(``run_watch.CancelWatch``) and ends the run itself.

A purge stops what writes for what it deletes, whichever way it selects (``runs_purge``): for a
run, the run itself when it is in progress, and every addition of days in progress to one of its
patients (which would otherwise write days for users the purge is deleting, or days the purge
does not know of); for selected users (the admin's "Delete selected synthetic users"), the runs
in progress that made them and every addition of days in progress to one of them; for every run,
every run in progress.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg import sql

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.db.session import DJANGO_SCHEMA
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.chunks import chunks_reap, run_settle
from synthadmin.services.purge import purge_preflight, synthetic_users_purge
from synthadmin.services.reports import ProgressListener, PurgeReport

Status = SyntheticRun.Status

#: Runs that may write for another run's patients while they go: additions of check-in days,
#: which always run inline (in a command, a request or a worker's task; never in chunks).
_ADDING_DAYS = Q(kind=SyntheticRun.Kind.EXTEND, background=False, status=Status.RUNNING)
#: Of the ``extend`` runs ``%s``, those adding days to a user of run ``%s``: the patients an
#: addition was started for are its ``parameters["patient_ids"]`` (one hash join, however many).
_EXTENDING = sql.SQL(
    "SELECT DISTINCT r.id FROM {runs} r "
    "CROSS JOIN LATERAL jsonb_array_elements_text(r.parameters -> 'patient_ids') AS p(user_id) "
    "JOIN {users} u ON u.user_id::text = p.user_id AND u.run_id = %s WHERE r.id = ANY(%s)"
).format(
    runs=sql.Identifier(DJANGO_SCHEMA, SyntheticRun._meta.db_table),
    users=sql.Identifier(DJANGO_SCHEMA, SyntheticUser._meta.db_table),
)


def run_cancel(*, run: SyntheticRun, by: str, for_purge: bool = False) -> SyntheticRun:
    """Cancel a run in progress (cooperatively); return it, refreshed. ``for_purge``: a purge of
    the run asks (it removes what the run made once it has stopped), not a Cancel.

    A background run (queued or running). Writes: the run's cancel flag
    (``cancel_requested_at``/``_by``); its chunks not started become ``cancelled``; with no chunk
    running the run is finished ``aborted`` at once, else the running chunks stop at their next
    heartbeat (users in flight finished or compensated) and the last of them finishes it.

    A run going inline in a live process (a generation, an addition of check-in days). Writes
    only the cancel flag: that process reads it within ``SYNTHADMIN_CANCEL_POLL_SECONDS``
    (``run_watch.CancelWatch``), starts no new user or batch, finishes or compensates what it
    has in flight and ends the run ``aborted`` itself (the run returned is still running).

    Raises InvalidRequestError for a run that is not in progress (an inline run whose process
    died is marked interrupted first, and refused: purge it to finish it).
    """
    if not run.background:
        return _inline_cancel(run, by, for_purge)
    if run.status not in (Status.QUEUED, Status.RUNNING):
        raise _not_in_progress(run)
    with transaction.atomic():
        locked = SyntheticRun.objects.select_for_update().get(pk=run.pk)
        if locked.cancel_requested_at is None:
            locked.cancel_requested_at, locked.cancel_requested_by = timezone.now(), by[:255]
        locked.cancel_for_purge = locked.cancel_for_purge or for_purge
        locked.save(update_fields=["cancel_requested_at", "cancel_requested_by", "cancel_for_purge"])
        locked.chunks.filter(state=RunChunk.State.QUEUED).update(
            state=RunChunk.State.CANCELLED, finished_at=timezone.now()
        )
    run_settle(run.pk)
    run.refresh_from_db()
    return run


def _inline_cancel(run: SyntheticRun, by: str, for_purge: bool) -> SyntheticRun:
    """``run_cancel`` of a run going inline: its cancel flag, if its process is still alive."""
    if run.status == Status.RUNNING:
        ledger.runs_reap_interrupted()  # a dead process stops nothing: the run is interrupted
        run.refresh_from_db()
    if run.status != Status.RUNNING:
        raise _not_in_progress(run)
    ledger.run_stop_request(run.pk, by, for_purge=for_purge)
    run.refresh_from_db()
    return run


def _not_in_progress(run: SyntheticRun) -> InvalidRequestError:
    return InvalidRequestError(
        f"run {run.pk} is {run.get_status_display().lower()}, not queued or running: nothing to cancel"
    )


def run_wait(run: SyntheticRun, *, timeout: float) -> SyntheticRun:
    """Wait until a run is neither queued nor running (at most ``timeout`` s); an inline run
    whose process died meanwhile is marked interrupted on the way."""
    deadline = time.monotonic() + timeout
    while True:
        if not run.background:
            ledger.runs_reap_interrupted()
        run.refresh_from_db()
        if run.status not in (Status.QUEUED, Status.RUNNING) or time.monotonic() >= deadline:
            return run
        time.sleep(0.2)


def runs_in_progress(
    *, run: uuid.UUID | None, user_ids: Iterable[uuid.UUID] | None = None
) -> list[SyntheticRun]:
    """The runs in progress: background runs queued or running, and runs going inline in a live
    process — generations and additions of check-in days (those whose process died are marked
    interrupted first). For ``run``: itself if it is one, and the additions of days in progress
    to its patients (``_extending``); for ``user_ids`` (``run`` None): those writing for one of
    these users (``_writing_for``); all of them when both are None."""
    ledger.runs_reap_interrupted()
    going = SyntheticRun.objects.filter(status__in=[Status.QUEUED, Status.RUNNING])
    if user_ids is not None:
        return list(going.filter(_writing_for(user_ids)))
    if run is None:
        return list(going)
    found = list(going.filter(Q(pk=run) | _ADDING_DAYS))
    return [each for each in found if each.pk == run] + _extending(run, [e for e in found if e.pk != run])


def _extending(run: uuid.UUID, additions: list[SyntheticRun]) -> list[SyntheticRun]:
    """Those of ``additions`` (``extend`` runs in progress) that add days to a user of ``run``."""
    if not additions:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_EXTENDING, [run, [each.pk for each in additions]])
        touching = {row[0] for row in cursor.fetchall()}
    return [each for each in additions if each.pk in touching]


def _writing_for(user_ids: Iterable[uuid.UUID]) -> Q:
    """The runs that write for one of ``user_ids``: the runs that made them (a generation, while
    it goes, may still be writing a user's check-ins), and the additions of days started for one
    of them (``parameters["patient_ids"]`` holds any of these ids: jsonb ``?|``)."""
    ids = [str(each) for each in user_ids]
    made = SyntheticUser.objects.filter(user_id__in=ids).values("run_id")
    return Q(pk__in=made) | (_ADDING_DAYS & Q(parameters__patient_ids__has_any_keys=ids))


def _run_or_runs_in_progress(
    run: uuid.UUID | None, user_ids: list[uuid.UUID] | None = None
) -> list[SyntheticRun]:
    """``runs_in_progress``; for one run, read in the same statement that tells it exists
    (InvalidRequestError when it does not) and that finds the additions of days in progress,
    whose patients, and the process of an inline run, are looked at only when one is going."""
    if run is None:
        return runs_in_progress(run=None, user_ids=user_ids)
    found = list(SyntheticRun.objects.filter(Q(pk=run) | _ADDING_DAYS))
    named = next((each for each in found if each.pk == run), None)
    if named is None:
        raise InvalidRequestError(f"no synthadmin run with id {run}", field="run")
    going = named.status in (Status.QUEUED, Status.RUNNING)
    if not going and len(found) == 1:
        return []
    if going and named.background and len(found) == 1:
        return [named]
    return runs_in_progress(run=run)


def runs_stop_before_purge(
    *,
    run: uuid.UUID | None,
    user_ids: list[uuid.UUID] | None = None,
    runs: list[SyntheticRun] | None = None,
    by: str = "purge",
) -> None:
    """Ask the runs in progress to stop (those writing for ``run``, or for ``user_ids``, or every
    run when both are None: ``runs_in_progress``; ``runs``, those the caller already found with
    it) and wait, at most
    ``SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS``, for them to finish or compensate the users in
    flight: a background run through ``run_cancel``; an inline one (a generation, an addition of
    check-in days) through its cancel flag, which its own process reads between users or batches
    (``run_watch.CancelWatch``). Chunks whose worker died, and inline runs whose process died,
    are settled on the way.

    Writes what ``run_cancel`` writes, or the inline run's cancel flag (by ``by``). Raises
    InvalidRequestError when a run is still stopping after the wait (purge it again then).
    """
    runs = runs_in_progress(run=run, user_ids=user_ids) if runs is None else runs
    deadline = time.monotonic() + settings.SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS
    for each in runs:
        if each.background:
            run_cancel(run=each, by=by, for_purge=True)
        else:  # found alive by runs_in_progress just now: no second look at its process
            ledger.run_stop_request(each.pk, by, for_purge=True)
    for each in runs:
        chunks_reap()
        if run_wait(each, timeout=max(deadline - time.monotonic(), 0)).status in (
            Status.QUEUED,
            Status.RUNNING,
        ):
            who = "a worker" if each.background else f"its process ({each.owner_host} pid {each.owner_pid})"
            raise InvalidRequestError(
                f"run {each.pk} is still stopping ({who} is finishing what it has in flight); it was "
                "asked to stop: purge it again in a moment"
            )


def runs_purge(
    *,
    run: uuid.UUID | None,
    user_ids: Iterable[uuid.UUID] | None = None,
    gateway: AuthGateway | None = None,
    stop: threading.Event | None = None,
    progress: ProgressListener | None = None,
    by: str = "purge",
) -> PurgeReport:
    """Purge one run (``run``), the synthetic users among ``user_ids`` (``run`` None; real ones
    named and left alone), or every run (both None) — every purge, from the command and the
    admin alike: the runs in progress writing for what it deletes (background or inline: the
    run, the runs that made the users, the additions of days to them) asked to stop (by ``by``)
    and awaited first (``runs_stop_before_purge``); Auth is checked before either
    (``purge_preflight``, or ``synthetic_users_purge``'s own check when nothing is in progress),
    so a refused key cancels nothing.

    Writes what ``runs_stop_before_purge`` and ``synthetic_users_purge`` write; raises what they
    raise, and InvalidRequestError (``field="run"``) for a run that does not exist, before
    anything is written.
    """
    stop = stop or threading.Event()
    users = None if user_ids is None else list(user_ids)
    with gateway_in_use(gateway, cancel=stop) as auth:
        in_progress = _run_or_runs_in_progress(run, users)
        if in_progress:
            purge_preflight(run=run, user_ids=users, gateway=auth)
            runs_stop_before_purge(run=run, user_ids=users, runs=in_progress, by=by)
        return synthetic_users_purge(run=run, user_ids=users, gateway=auth, stop=stop, progress=progress)


__all__ = ["run_cancel", "run_wait", "runs_in_progress", "runs_purge", "runs_stop_before_purge"]
