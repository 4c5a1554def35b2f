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
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from synthadmin.models import LIVE_STATES, SyntheticRun, SyntheticUser

__all__ = ["LIVE_STATES"]

State = SyntheticUser.State


def entry_intent(
    *, run: SyntheticRun, user_id: uuid.UUID, email: str, role: str, attempt: int
) -> SyntheticUser:
    """Record, before the Auth call, that ``user_id`` is about to be created (committed at once)."""
    return SyntheticUser.objects.create(
        run=run, user_id=user_id, email=email, role=role, attempt=attempt, state=State.INTENT
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


def _mark(entry_ids: Iterable[int], state: str, reason: str) -> None:
    SyntheticUser.objects.filter(pk__in=list(entry_ids)).update(
        state=state, failure_reason=reason[:2000], updated_at=timezone.now()
    )


def entries_checkins_removed(user_id: uuid.UUID, count: int) -> None:
    """Purging an extend run removed ``count`` check-ins it had added to a complete user."""
    from django.db.models import F
    from django.db.models.functions import Greatest

    SyntheticUser.objects.filter(user_id=user_id, state=State.COMPLETE).update(
        checkins=Greatest(F("checkins") - count, 0)
    )
