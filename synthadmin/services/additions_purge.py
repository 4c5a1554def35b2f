"""Purging check-in additions: remove exactly the check-ins a run of added days added.

Serves both ways of adding days (an "Add check-in days" backfill and an "Extend to today" run:
both are ``extend`` runs that record their dates per patient in ``CheckinAddition``), and
closes the records of users deleted with their check-ins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile
from synthadmin.failpoints import PURGE_ADDITIONS_BATCH, failpoint
from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.selectors import profile_is_synthetic
from synthadmin.services import ledger
from synthadmin.services.additions import dates_of

#: The check-ins of (user, date) pairs, per user: deleted, or (dry run) counted.
_PAIRS = "SELECT * FROM unnest(%s::uuid[], %s::date[]) AS p(user_id, day)"
DELETE_ADDED = (
    f"WITH gone AS (DELETE FROM public.check_ins c USING ({_PAIRS}) p "  # noqa: S608 - constant SQL
    "WHERE c.user_id = p.user_id AND c.checkin_date = p.day RETURNING c.user_id) "
    "SELECT user_id, count(*) FROM gone GROUP BY user_id"
)
COUNT_ADDED = (
    f"SELECT c.user_id, count(*) FROM public.check_ins c JOIN ({_PAIRS}) p "  # noqa: S608 - constant SQL
    "ON c.user_id = p.user_id AND c.checkin_date = p.day GROUP BY c.user_id"
)
_CLOSE = (
    "WITH closed AS (UPDATE {table} SET removed_at = %s WHERE user_id = ANY(%s) AND removed_at IS NULL "
    "RETURNING run_id) "
    "SELECT DISTINCT c.run_id FROM closed c WHERE NOT EXISTS (SELECT 1 FROM {table} a "
    "WHERE a.run_id = c.run_id AND a.removed_at IS NULL AND NOT (a.user_id = ANY(%s)))"
)


@dataclass(frozen=True)
class AdditionsRemoval:
    """What removing a run's added check-ins did (or, ``dry_run``, would do)."""

    run_id: uuid.UUID
    dry_run: bool
    checkins_deleted: int
    patients: int
    #: Patients whose profile is no longer a test patient (all of them real by the rule), "email: why".
    left_alone: list[str] = field(default_factory=list)


def checkin_additions_remove(*, run: uuid.UUID, dry_run: bool = False) -> AdditionsRemoval:
    """Delete the check-ins extend run ``run`` added, nothing else.

    Per batch of ``SYNTHADMIN_BATCH_USERS`` ``CheckinAddition`` records not yet removed, one
    transaction: those patients' check-ins on the recorded dates are deleted (one statement),
    their ledger counts decremented (one) and the records marked removed (one) — each patient's
    removal whole or not at all. A profile no longer a test patient is left alone and named; one
    already deleted (its check-ins went by cascade) has its record closed with nothing to
    delete. Idempotent. A run of another kind, or one that added nothing, removes nothing.
    Writes nothing with ``dry_run`` (counts what is there to delete). Does not set
    ``run.purged_at``: the caller (``synthetic_users_purge``) marks the run purged as for any run.
    """
    run_id = uuid.UUID(str(run))
    if not SyntheticRun.objects.filter(pk=run_id, kind=SyntheticRun.Kind.EXTEND).exists():
        return AdditionsRemoval(run_id=run_id, dry_run=dry_run, checkins_deleted=0, patients=0)
    additions = list(CheckinAddition.objects.filter(run_id=run_id, removed_at__isnull=True))
    profiles = {p.id: p for p in Profile.objects.filter(id__in=[a.user_id for a in additions])}
    left_alone: list[str] = []
    ours: list[CheckinAddition] = []
    for addition in additions:
        profile = profiles.get(addition.user_id)
        if profile is not None and not profile_is_synthetic(profile):
            left_alone.append(f"{addition.email}: its profile is no longer a test patient")
        else:
            ours.append(addition)
    counts: dict[uuid.UUID, int] = {}
    size = settings.SYNTHADMIN_BATCH_USERS
    for first in range(0, len(ours), size):
        counts.update(_batch_remove(ours[first : first + size], dry_run=dry_run))
    return AdditionsRemoval(
        run_id=run_id,
        dry_run=dry_run,
        checkins_deleted=sum(counts.values()),
        patients=sum(1 for count in counts.values() if count),
        left_alone=sorted(left_alone),
    )


def _batch_remove(batch: list[CheckinAddition], *, dry_run: bool) -> dict[uuid.UUID, int]:
    """Remove (or count) the added check-ins of ``batch`` in one transaction; per user, how many."""
    users: list[uuid.UUID] = []
    days: list[object] = []
    for addition in batch:
        dates = dates_of(addition.days)
        users += [addition.user_id] * len(dates)
        days += dates
    if dry_run:
        with connection.cursor() as cursor:
            cursor.execute(COUNT_ADDED, [users, days])
            return {uuid.UUID(str(user_id)): int(count) for user_id, count in cursor.fetchall()}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DELETE_ADDED, [users, days])
        counts = {uuid.UUID(str(user_id)): int(count) for user_id, count in cursor.fetchall()}
        failpoint(PURGE_ADDITIONS_BATCH)  # tests only: inside the batch's transaction
        ledger.entries_checkins_changed({user_id: -count for user_id, count in counts.items()})
        CheckinAddition.objects.filter(pk__in=[a.pk for a in batch]).update(removed_at=timezone.now())
    return counts


def additions_close(user_ids: Iterable[uuid.UUID]) -> list[str]:
    """Close the ``CheckinAddition`` records of users just deleted: their added check-ins went
    with them (by cascade), so no extend run has anything left to remove for them. One statement.

    Returns the ids of the extend runs this leaves with no open record (the caller marks them
    purged, as ``synthetic_users_purge`` does for runs whose users are all gone), so that purging a
    generate run does not leave its "Extend to today" / "Add check-in days" runs looking live.
    """
    ids = list(user_ids)
    if not ids:
        return []
    table = connection.ops.quote_name(CheckinAddition._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_CLOSE.format(table=table), [timezone.now(), ids, ids])
        return sorted(str(row[0]) for row in cursor.fetchall())
