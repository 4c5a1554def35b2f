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

An attempt a stop ended before it created anything (``AuthCancelledError``) is ``failed`` with
``never_sent`` set (``entry_not_sent``): its user was never tried, and is no failure.

A *run* (``SyntheticRun``) is started by ``run_start`` for a ``Starter`` (the process that runs
it is its owner), kept alive by ``run_heartbeat`` and ended by ``run_finish``, the one status
ladder; ``run_counts`` is what its ledger says it made. A run whose owner died without
finishing (kill -9, a lost machine) is found by ``runs_reap_interrupted`` and marked
``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil
from django.db import DatabaseError, connection
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone
from psycopg import sql

from synthadmin.db.pipeline import Statement, statements_pipelined
from synthadmin.db.session import DJANGO_SCHEMA
from synthadmin.logs import run_log_bind
from synthadmin.models import LIVE_STATES, SyntheticRun, SyntheticUser
from synthadmin.redaction import redact
from synthadmin.text import name_folded

logger = logging.getLogger(__name__)

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
    name: str = "",
) -> SyntheticUser:
    """Record, before the Auth call, that ``user_id`` is about to be created (committed at once);
    ``job_index``, which user of the run it is (``PersonSpec.number``); ``name``, the name it is
    shown by (kept folded for search, ``text.name_folded``)."""
    return SyntheticUser.objects.create(
        run=run,
        user_id=user_id,
        email=email,
        role=role,
        attempt=attempt,
        state=State.INTENT,
        job_index=job_index,
        search_name=name_folded(name),
    )


@dataclass(frozen=True)
class Intent:
    """One attempt about to be made, as ``entry_intent`` records it, under an id reserved for it
    (``entry_ids_reserve``): its Auth user's marker names the entry before the entry is written."""

    entry_id: int
    user_id: uuid.UUID
    email: str
    role: str
    attempt: int
    job_index: int | None
    name: str = ""


_ENTRY_TABLE = sql.Identifier(DJANGO_SCHEMA, SyntheticUser._meta.db_table)
_INSERT_INTENTS = sql.SQL(
    "INSERT INTO {} (id, run_id, user_id, job_index, email, role, attempt, search_name, state, checkins,"
    " ground_truth, failure_reason, never_sent, created_at, updated_at)"
    " SELECT i.id, %s, i.user_id, i.job_index, i.email, i.role, i.attempt, i.search_name, %s, 0,"
    " '{{}}'::jsonb, '', false, %s, %s FROM unnest(%s::bigint[], %s::uuid[], %s::integer[], %s::text[],"
    " %s::text[], %s::integer[], %s::text[]) AS i(id, user_id, job_index, email, role, attempt, search_name)"
).format(_ENTRY_TABLE)
_COMPLETE_MANY = sql.SQL(
    "UPDATE {} AS s SET state = %s, checkins = c.checkins, ground_truth = c.ground_truth::jsonb"
    " FROM unnest(%s::bigint[], %s::integer[], %s::text[]) AS c(id, checkins, ground_truth)"
    " WHERE s.id = c.id"
).format(_ENTRY_TABLE)


def entry_ids_reserve(count: int) -> list[int]:
    """``count`` ledger entry ids taken from the entries' own sequence (one round trip): the ids
    ``entries_intent_statement`` records intents under; an id reserved and never used is a gap."""
    if count <= 0:
        return []
    table = f"{DJANGO_SCHEMA}.{SyntheticUser._meta.db_table}"
    (answer,) = statements_pipelined(
        [("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])]
    )
    return [row[0] for row in answer.rows]


def entries_intent_statement(*, run: SyntheticRun, intents: Sequence[Intent]) -> Statement:
    """The statement that records a batch of ``intents`` as ``entry_intent`` records one: for
    the caller to send before the Auth users of the batch are made — alone (``entries_intent``),
    or first in the very transaction that makes them on a gateway that writes ``auth`` rows itself."""
    now = timezone.now()
    return (
        _INSERT_INTENTS,
        [
            run.pk,
            State.INTENT,
            now,
            now,
            [i.entry_id for i in intents],
            [i.user_id for i in intents],
            [i.job_index for i in intents],
            [i.email for i in intents],
            [i.role for i in intents],
            [i.attempt for i in intents],
            [name_folded(i.name) for i in intents],
        ],
    )


def entries_intent(statement: Statement) -> None:
    """Record a batch's intents (``entries_intent_statement``) alone: one round trip, committed
    at once (call it outside a transaction), before any of their Auth calls."""
    statements_pipelined([statement])


def entries_complete_statement(completions: Sequence[tuple[int, int, dict[str, Any] | None]]) -> Statement:
    """The statement that marks a batch's entries ``complete`` as ``entry_complete`` marks one —
    ``(entry id, check-ins, ground truth)`` each — for the caller to send inside the transaction
    that writes their rows (``services.writer``), with other statements of that transaction."""
    return (
        _COMPLETE_MANY,
        [
            State.COMPLETE,
            [entry_id for entry_id, _, _ in completions],
            [checkins for _, checkins, _ in completions],
            [json.dumps(truth or {}) for _, _, truth in completions],
        ],
    )


def entries_not_sent(entry_ids: Iterable[int], reason: str) -> None:
    """``entry_not_sent`` for many entries, in one statement (a stop came before their calls)."""
    ids = list(entry_ids)
    if ids:
        SyntheticUser.objects.filter(pk__in=ids).update(
            state=State.FAILED, never_sent=True, failure_reason=reason[:2000], updated_at=timezone.now()
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


def entry_not_sent(entry_id: int, reason: str) -> None:
    """A stop ended the attempt before it created anything (``AuthCancelledError`` with no user
    left behind): ``failed``, and ``never_sent`` — the user was never tried, no failure of it."""
    SyntheticUser.objects.filter(pk=entry_id).update(
        state=State.FAILED, never_sent=True, failure_reason=reason[:2000], updated_at=timezone.now()
    )


def entry_pending(entry_id: int, reason: str) -> None:
    """Still ``intent``: an Auth user may exist; purge will look it up and finish."""
    _mark([entry_id], State.INTENT, reason)


def entries_purged(entry_ids: Iterable[int], reason: str = "") -> None:
    _mark(entry_ids, State.PURGED, reason)


def entries_checkins_added(user_id: uuid.UUID, count: int) -> None:
    """An extend run added ``count`` check-ins to a complete user."""
    SyntheticUser.objects.filter(user_id=user_id, state=State.COMPLETE).update(checkins=F("checkins") + count)


def entries_checkins_removed(user_id: uuid.UUID, count: int) -> None:
    """Purging an extend run removed ``count`` check-ins it had added to a complete user."""
    SyntheticUser.objects.filter(user_id=user_id, state=State.COMPLETE).update(
        checkins=Greatest(F("checkins") - count, 0)
    )


def entries_checkins_changed(deltas: Mapping[uuid.UUID, int]) -> None:
    """Runs that add days added (positive) or purging them removed (negative) check-ins of many
    complete users: ``{user_id: change}``, in one statement; a count never goes below 0."""
    changes = {user_id: delta for user_id, delta in deltas.items() if delta}
    if not changes:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(SyntheticUser._meta.db_table)} s "  # noqa: S608 - a quoted model table
            "SET checkins = GREATEST(s.checkins + d.delta, 0) "
            "FROM unnest(%s::uuid[], %s::integer[]) AS d(user_id, delta) "
            "WHERE s.user_id = d.user_id AND s.state = %s",
            [list(changes), list(changes.values()), State.COMPLETE],
        )


def _mark(entry_ids: Iterable[int], state: str, reason: str) -> None:
    SyntheticUser.objects.filter(pk__in=list(entry_ids)).update(
        state=state, failure_reason=reason[:2000], updated_at=timezone.now()
    )


#: A running run whose owner runs on another host is taken for dead after this long without a
#: heartbeat (on the same host, a dead owner process is seen at once).
HEARTBEAT_STALE = dt.timedelta(minutes=10)
#: How often a run refreshes its heartbeat.
HEARTBEAT_EVERY = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Starter:
    """Who started a run: ``"staff:alice"`` (admin) or ``"os:deploy"`` (command)."""

    label: str
    user_id: int | None = None
    source: str = SyntheticRun.Source.API


def run_start(
    *,
    kind: str,
    started_by: Starter,
    parameters: dict[str, Any],
    seed: int,
    auth_backend: str,
    scenario: Any = None,
    background: bool = False,
) -> SyntheticRun:
    """Create a ``running`` run owned by this process (host, pid, process start time), started
    by ``started_by``; ``scenario``, a ``Scenario`` whose run it is. ``background``: a ``queued``
    run that task workers will run chunk by chunk (no owner process; ``services.chunks``)."""
    if background:
        owned: dict[str, Any] = {"background": True, "status": SyntheticRun.Status.QUEUED}
    else:
        host, pid, started = process_identity()
        owned = {
            "owner_host": host,
            "owner_pid": pid,
            "owner_started_at": started,
            "heartbeat_at": timezone.now(),
        }
    run = SyntheticRun.objects.create(
        kind=kind,
        source=started_by.source,
        started_by=started_by.label,
        started_by_user_id=started_by.user_id,
        parameters=parameters,
        seed=seed,
        auth_backend=auth_backend,
        scenario=scenario,
        **owned,
    )
    run_log_bind(run.pk)  # from here on, this scope's log lines carry the run id
    logger.info("run %s %s by %s", run.pk, "queued" if background else "started", started_by.label)
    return run


def run_mark_running(run_id: uuid.UUID) -> None:
    """A queued background run has started (its first chunk was claimed)."""
    SyntheticRun.objects.filter(pk=run_id, status=SyntheticRun.Status.QUEUED).update(
        status=SyntheticRun.Status.RUNNING, heartbeat_at=timezone.now()
    )


def run_stop_request(run_id: uuid.UUID, by: str, *, for_purge: bool = False) -> bool:
    """Ask a run to start no new user or batch — its background workers, or the process that runs
    it inline (a cancel, a purge of it, or a diagnosis such as a rejected key that one chunk
    made); the first request's time and ``by`` stay, ``for_purge`` (a purge asked) is kept once
    any request says so. True if this call set the flag."""
    first = bool(
        SyntheticRun.objects.filter(pk=run_id, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now(), cancel_requested_by=by[:255], cancel_for_purge=for_purge
        )
    )
    if for_purge and not first:
        SyntheticRun.objects.filter(pk=run_id).update(cancel_for_purge=True)
    return first


def run_heartbeat(run: SyntheticRun) -> None:
    """Say the run is alive (at most every ``HEARTBEAT_EVERY``)."""
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
    cancelled_by: str = ""  # who set the run's cancel flag (a purge of it), if anyone did
    abort: str = ""  # a diagnosis that stopped the run (rejected key, Auth or database lost)
    failures: int = 0
    first_failure: str = ""
    created: int = 0
    #: What a stop left in flight: users for a generation; an addition of days passes its own.
    in_flight: str = "users in flight were finished or compensated"


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
    if outcome.cancelled_by:
        return (
            Status.ABORTED,
            f"cancelled by {outcome.cancelled_by}; {outcome.in_flight}",
        )
    if outcome.stopped:
        return Status.ABORTED, f"interrupted on request; {outcome.in_flight}"
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
    run.status = status
    run.error_summary = redact(error)
    run.finished_at = timezone.now()
    for name, value in counts.items():
        setattr(run, name, value)
    # Only what it ends: the cancel flag a purge or Cancel set meanwhile (in the database, not
    # in this copy) must stay, as the record of who stopped the run.
    fields = ["status", "error_summary", "finished_at", *counts]
    try:
        run.save(update_fields=fields)
    except DatabaseError:
        connection.close()  # a lost connection: try once more on a fresh one
        run.save(update_fields=fields)
    logger.info("run %s ended %s", run.pk, status)


def runs_reap_interrupted() -> list[SyntheticRun]:
    """Mark ``interrupted`` every ``running`` run whose owner is gone; return them, with their
    counts from the ledger (``run_counts``).

    Same host: the owner process no longer exists (or its pid now belongs to a process started
    later). Another host, or no owner recorded (a run from an earlier version): no heartbeat for
    ``HEARTBEAT_STALE``. Runs of a task worker are the worker's business (not reaped here).
    """
    host, _pid, _started = process_identity()
    now = timezone.now()
    reaped = []
    for run in SyntheticRun.objects.filter(status=SyntheticRun.Status.RUNNING, background=False):
        if run.owner_host == host and run.owner_pid:
            alive = process_alive(run.owner_pid, run.owner_started_at)
        else:
            last = run.heartbeat_at or run.started_at
            alive = last is not None and now - last < HEARTBEAT_STALE
        if alive:
            continue
        counts = run_counts(run)
        updated = SyntheticRun.objects.filter(pk=run.pk, status=SyntheticRun.Status.RUNNING).update(
            status=SyntheticRun.Status.INTERRUPTED,
            finished_at=now,
            error_summary="interrupted: the process running it died before it finished; purge it to finish",
            patients_created=counts.patients,
            therapists_created=counts.therapists,
            checkins_created=counts.checkins,
        )
        if updated:
            run.refresh_from_db()
            reaped.append(run)
    return reaped


@dataclass(frozen=True)
class RunCounts:
    """What a run's ledger says it made (``run_counts``)."""

    patients: int
    therapists: int
    checkins: int
    #: Users none of whose attempts completed (see ``run_counts`` for which count).
    failed: int
    #: The failure reason of the first failed user, by job order ("" when none failed).
    first_failure: str
    #: Attempts still ``intent``: in flight, or left for purge to resolve.
    in_flight: int

    @property
    def created(self) -> int:
        return self.patients + self.therapists


def run_unsettled(run: SyntheticRun) -> int:
    """How many of ``run``'s entries are still ``intent`` (an Auth call whose outcome is unknown,
    or an undo that failed): what a closing message says, read from the ledger (one statement)."""
    return run.users.filter(state=State.INTENT).count()


def run_counts(
    run: SyntheticRun, *, first: int = 0, stop: int | None = None, final: bool = True
) -> RunCounts:
    """What ``run`` made, from its ledger: the one count of every page, command and task.

    Users (by job index) from ``first`` up to ``stop`` (None: to the end). A user is created
    when an attempt of it is ``complete``; it failed when none is and one was tried (an attempt
    ``never_sent`` was not) — and, unless ``final`` (the run still goes on), none is in flight.
    Check-ins are those of complete users. ``purged`` entries are not counted: an intent that a
    chunk re-run settled is purged too, and a run's counts are recorded before it is purged.
    """
    entries = run.users.all()
    if first:
        entries = entries.filter(job_index__gte=first)
    if stop is not None:
        entries = entries.filter(job_index__lt=stop)
    complete = Q(state=State.COMPLETE)
    per_user = entries.values("job_index", "role").annotate(
        done=Count("id", filter=complete),
        open=Count("id", filter=Q(state=State.INTENT)),
        tried=Count("id", filter=~Q(state=State.FAILED, never_sent=True)),
    )
    failed = per_user.filter(done=0, tried__gt=0)
    failed = failed if final else failed.filter(open=0)
    roles = Counter(row["role"] for row in per_user.filter(done__gt=0, job_index__isnull=False))
    # Entries of versions before job indices: each complete one is a user.
    roles.update(entries.filter(complete, job_index__isnull=True).values_list("role", flat=True))
    totals = entries.aggregate(
        checkins=Sum("checkins", filter=complete), in_flight=Count("id", filter=Q(state=State.INTENT))
    )
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
    return RunCounts(
        patients=roles[SyntheticUser.Role.PATIENT],
        therapists=roles[SyntheticUser.Role.THERAPIST],
        checkins=totals["checkins"] or 0,
        failed=len(failed_indices),
        first_failure=first_failure,
        in_flight=totals["in_flight"],
    )


def process_identity() -> tuple[str, int, dt.datetime]:
    """This process: (host, pid, process start time), as runs and chunks record their owner."""
    pid = os.getpid()
    started = dt.datetime.fromtimestamp(psutil.Process(pid).create_time(), tz=dt.UTC)
    return socket.gethostname(), pid, started


def process_alive(pid: int, started_at: dt.datetime | None) -> bool:
    """Whether the process ``pid`` started at ``started_at`` (on this host) still runs."""
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
