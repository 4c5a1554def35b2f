"""Extend to today, the writing: a batch of patients' new days in one transaction, a few round trips.

Per batch (``today_batch_write``): one pipelined round trip locks the batch's ledger entries (in
id order, so two extensions never deadlock) and reads what a concurrent extension already wrote
(its ``CheckinAddition`` records, the check-ins in each window); one COPY writes every patient's
new days; one statement updates the ledger counts and one inserts the records. Each patient gets
all its new days, its count and its record, or none. Should the database refuse the batch, it is
rolled back and its patients are written one at a time (``_extend_one``), so one bad patient
costs only its own days.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import DatabaseError, connection, transaction
from psycopg import sql

from synthadmin import content
from synthadmin.db.errors import connection_lost
from synthadmin.db.pipeline import statements_pipelined
from synthadmin.db.session import DJANGO_SCHEMA
from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ADDITIONS_BATCH_COPIED, failpoint
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.additions import addition_failure, date_runs
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.reports import UserFailure
from synthadmin.services.writer import JsonRow, checkins_copy, checkins_copy_many

if TYPE_CHECKING:
    import numpy as np

    from synthadmin.content import EpisodeInProgress, PatientHistory, PatientTraits

EXISTING_DATES = "SELECT checkin_date FROM public.check_ins WHERE user_id = %s AND checkin_date >= %s"
#: A batch's check-ins on or after each patient's window start (``unnest`` of ids and starts).
EXISTING_DATES_MANY = (
    "SELECT c.user_id, c.checkin_date FROM public.check_ins c "
    "JOIN unnest(%s::uuid[], %s::date[]) AS p(user_id, start) "
    "ON c.user_id = p.user_id AND c.checkin_date >= p.start"
)
_LOCK_ENTRIES = sql.SQL("SELECT id FROM {} WHERE id = ANY(%s) ORDER BY id FOR UPDATE").format(
    sql.Identifier(DJANGO_SCHEMA, SyntheticUser._meta.db_table)
)
_OPEN_ADDITION_ENDS = sql.SQL(
    "SELECT user_id, ground_truth ->> 'end' FROM {} WHERE user_id = ANY(%s) AND removed_at IS NULL"
).format(sql.Identifier(DJANGO_SCHEMA, CheckinAddition._meta.db_table))


@dataclass(frozen=True)
class TodayPlan:
    """One patient's continuation: the window after its last generated day, and where it left off."""

    user_id: uuid.UUID
    entry_id: int
    email: str
    pattern: str
    start: dt.date
    days: int
    where: EpisodeInProgress
    seed: np.random.SeedSequence
    traits: PatientTraits | None
    adherence: float


@dataclass
class Tally:
    """What writing the plans did: check-ins written, patients extended, found up to date, failed;
    whether it stopped before the end, and who asked it to through the database."""

    written: int = 0
    extended: int = 0
    up_to_date: int = 0
    failures: list[UserFailure] = field(default_factory=list)
    stopped: bool = False
    #: Who set the run's cancel flag (Cancel, a purge: ``cancel_for_purge``), if anyone did.
    cancelled_by: str = ""
    cancel_for_purge: bool = False

    def add(self, other: Tally) -> None:
        self.written += other.written
        self.extended += other.extended
        self.up_to_date += other.up_to_date
        self.failures += other.failures


def today_batch_write(run_row: SyntheticRun, batch: list[TodayPlan], today: dt.date) -> Tally:
    """Write ``batch`` in one transaction (``_batch_claim``, one COPY, one ledger statement, one
    for the records); should the database refuse it, one patient at a time (``_extend_one``)."""
    histories = {plan.user_id: _history(plan, today) for plan in batch}  # before the transaction
    done = Tally()
    try:
        with transaction.atomic():
            fresh, existing = _batch_claim(batch)
            if not fresh:
                return Tally(up_to_date=len(batch))  # other extensions got there first
            written: dict[uuid.UUID, list[dt.date]] = {plan.user_id: [] for plan in fresh}
            counts = checkins_copy_many(
                histories=[
                    (
                        plan.user_id,
                        _new_rows(
                            histories[plan.user_id], existing.get(plan.user_id, set()), written[plan.user_id]
                        ),
                    )
                    for plan in fresh
                ]
            )
            failpoint(ADDITIONS_BATCH_COPIED)  # tests only: inside the batch's transaction
            ledger.entries_checkins_changed(counts)
            CheckinAddition.objects.bulk_create(
                [_record(run_row, plan, histories[plan.user_id], written[plan.user_id]) for plan in fresh]
            )
    except DatabaseError as exc:
        if connection_lost(exc):
            raise
        return _each_write(run_row, batch, histories)  # rolled back: find who, keep the others
    failpoint(ADDITIONS_AFTER_BATCH)  # tests only: a batch committed, the next not started
    done.up_to_date = len(batch) - len(fresh)  # another extension got there first
    done.extended = len(fresh)
    done.written = sum(counts.values())
    return done


def _batch_claim(batch: list[TodayPlan]) -> tuple[list[TodayPlan], dict[uuid.UUID, set[dt.date]]]:
    """In the caller's transaction, one round trip: lock the batch's ledger entries (in id order,
    so two extensions never deadlock; the second waits and then sees the first's records), then
    read the records still in place and the check-ins already in each window. The plans still
    to write, and the dates each already has."""
    users = [plan.user_id for plan in batch]
    _locked, ends, dates = statements_pipelined(
        [
            (_LOCK_ENTRIES, [[plan.entry_id for plan in batch]]),
            (_OPEN_ADDITION_ENDS, [users]),
            (EXISTING_DATES_MANY, [users, [plan.start for plan in batch]]),
        ]
    )
    covered: dict[uuid.UUID, dt.date] = {}
    for user_id, end in ends.rows:
        if end:
            day = dt.date.fromisoformat(end)
            covered[user_id] = max(day, covered.get(user_id, day))
    existing: dict[uuid.UUID, set[dt.date]] = {}
    for user_id, day in dates.rows:
        existing.setdefault(user_id, set()).add(day)
    fresh = [plan for plan in batch if plan.user_id not in covered or covered[plan.user_id] < plan.start]
    return fresh, existing


def _new_rows(history: PatientHistory, existing: set[dt.date], written: list[dt.date]) -> Iterator[JsonRow]:
    """The rows of ``history`` on days not in ``existing``; their dates go to ``written``."""
    for row in history.iter_json_rows():
        if row[0] not in existing:
            written.append(row[0])
            yield row


def _each_write(
    run_row: SyntheticRun, batch: list[TodayPlan], histories: dict[uuid.UUID, PatientHistory]
) -> Tally:
    """Write each patient of ``batch`` in a transaction of its own; a failure is reported and the
    others still written."""
    done = Tally()
    for plan in batch:
        try:
            count = _extend_one(run_row, plan, histories[plan.user_id])
        except DatabaseError as exc:  # one patient's failure must not stop the others
            if connection_lost(exc):
                raise
            done.failures.append(addition_failure(plan.email, exc))
            continue
        if count is None:
            done.up_to_date += 1  # another extension got there first
        else:
            done.written += count
            done.extended += 1
    return done


def _history(plan: TodayPlan, today: dt.date) -> PatientHistory:
    """``plan``'s patient's days from ``plan.start`` to ``today``, continuing its chain."""
    return content.continue_history(
        pattern=plan.pattern,
        end_date=today,
        days=plan.days,
        seed=plan.seed,
        adherence=plan.adherence,
        continue_from=plan.where,
        traits=plan.traits,
    )


def _record(
    run: SyntheticRun, plan: TodayPlan, history: PatientHistory, written: list[dt.date]
) -> CheckinAddition:
    """The ``CheckinAddition`` naming the days written for ``plan``'s patient (unsaved)."""
    return CheckinAddition(
        run=run,
        user_id=plan.user_id,
        email=plan.email,
        days=date_runs(written),
        checkins=len(written),
        ground_truth=ground_truth_of(history),
    )


def _extend_one(run: SyntheticRun, plan: TodayPlan, history: PatientHistory) -> int | None:
    """Write one patient's window in a transaction of its own; None when another extension
    already covered it."""
    with transaction.atomic():
        # Serialises extensions of one patient: the second sees the first's addition below.
        list(SyntheticUser.objects.select_for_update().filter(pk=plan.entry_id).values_list("pk"))
        ends = CheckinAddition.objects.filter(user_id=plan.user_id, removed_at__isnull=True).values_list(
            "ground_truth__end", flat=True
        )
        if any(e and dt.date.fromisoformat(e) >= plan.start for e in ends):
            return None
        with connection.cursor() as cursor:
            cursor.execute(EXISTING_DATES, [plan.user_id, plan.start])
            existing = {row[0] for row in cursor.fetchall()}
        written: list[dt.date] = []
        count = checkins_copy(user_id=plan.user_id, rows=_new_rows(history, existing, written))
        ledger.entries_checkins_changed({plan.user_id: count})
        _record(run, plan, history, written).save()
    return count
