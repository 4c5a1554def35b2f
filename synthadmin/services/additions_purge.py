"""Purging check-in additions: remove exactly the check-ins a run of added days added.

Serves both ways of adding days (an "Add check-in days" backfill and an "Extend to today" run:
both are ``extend`` runs that record their dates per patient in ``CheckinAddition``), and
closes the records of users deleted with their check-ins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile
from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.selectors import profile_is_synthetic
from synthadmin.services import ledger
from synthadmin.services.additions import dates_of

DELETE_ADDED = "DELETE FROM public.check_ins WHERE user_id = %s AND checkin_date = ANY(%s::date[])"
COUNT_ADDED = "SELECT count(*) FROM public.check_ins WHERE user_id = %s AND checkin_date = ANY(%s::date[])"


@dataclass(frozen=True)
class AdditionsRemoval:
    """What removing a run's added check-ins did (or, ``dry_run``, would do)."""

    run_id: uuid.UUID
    dry_run: bool
    checkins_deleted: int
    patients: int
    left_alone: list[str] = field(default_factory=list)


def checkin_additions_remove(*, run: uuid.UUID, dry_run: bool = False) -> AdditionsRemoval:
    """Delete the check-ins extend run ``run`` added, nothing else.

    Per ``CheckinAddition`` record not yet removed, one transaction: that patient's check-ins on
    the recorded dates are deleted, its ledger count decremented and the record marked removed.
    A profile no longer a test patient is left alone and named; one already deleted (its
    check-ins went by cascade) has its record closed with nothing to delete. Idempotent. A run
    of another kind, or one that added nothing, removes nothing. Writes nothing with
    ``dry_run`` (counts what is there to delete). Does not set ``run.purged_at``: the caller
    (``synthetic_users_purge``) marks the run purged as for any run.
    """
    run_id = uuid.UUID(str(run))
    if not SyntheticRun.objects.filter(pk=run_id, kind=SyntheticRun.Kind.EXTEND).exists():
        return AdditionsRemoval(run_id=run_id, dry_run=dry_run, checkins_deleted=0, patients=0)
    additions = list(CheckinAddition.objects.filter(run_id=run_id, removed_at__isnull=True))
    profiles = {p.id: p for p in Profile.objects.filter(id__in=[a.user_id for a in additions])}
    deleted = 0
    patients = 0
    left_alone: list[str] = []
    for addition in additions:
        profile = profiles.get(addition.user_id)
        if profile is not None and not profile_is_synthetic(profile):
            left_alone.append(f"{addition.email}: its profile is no longer a test patient")
            continue
        dates = dates_of(addition.days)
        with transaction.atomic(), connection.cursor() as cursor:
            if dry_run:
                cursor.execute(COUNT_ADDED, [addition.user_id, dates])
                count = int(cursor.fetchone()[0])
            else:
                cursor.execute(DELETE_ADDED, [addition.user_id, dates])
                count = cursor.rowcount
                ledger.entries_checkins_removed(addition.user_id, count)
                CheckinAddition.objects.filter(pk=addition.pk).update(removed_at=timezone.now())
        deleted += count
        patients += 1 if count else 0
    return AdditionsRemoval(
        run_id=run_id,
        dry_run=dry_run,
        checkins_deleted=deleted,
        patients=patients,
        left_alone=sorted(left_alone),
    )


def additions_close(user_ids: Iterable[uuid.UUID]) -> list[str]:
    """Close the ``CheckinAddition`` records of users just deleted: their added check-ins went
    with them (by cascade), so no extend run has anything left to remove for them.

    Returns the ids of the extend runs this leaves with no open record (the caller marks them
    purged, as ``synthetic_users_purge`` does for runs whose users are all gone), so that purging a
    generate run does not leave its "Extend to today" / "Add check-in days" runs looking live.
    """
    open_records = CheckinAddition.objects.filter(user_id__in=list(user_ids), removed_at__isnull=True)
    runs = set(open_records.values_list("run_id", flat=True))
    if not runs:
        return []
    open_records.update(removed_at=timezone.now())
    still_open = set(
        CheckinAddition.objects.filter(run_id__in=runs, removed_at__isnull=True).values_list(
            "run_id", flat=True
        )
    )
    return sorted(str(r) for r in runs - still_open)
