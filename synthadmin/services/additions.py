"""What both ways of adding check-in days share: backfill (before the first) and extend to today.

Which patients a selection names, which are refused, a failed patient's line, the report of a
run that adds days, and the added dates as ``CheckinAddition.days`` stores them.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from profiles.models import Profile
from synthadmin.db.errors import first_line
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.selectors import profile_is_synthetic
from synthadmin.services.reports import RunReport, UserFailure

#: What a stopped addition of days left in flight (the run's error summary): its batch finished.
BATCH_IN_FLIGHT = "the batch being written was finished first, each patient's days whole"


@dataclass(frozen=True)
class AdditionRefusal:
    """A selected profile that gets no check-in days, and why."""

    email: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"email": self.email, "reason": self.reason}


def patients_selected(
    *, patient_ids: Iterable[uuid.UUID] | None, run: uuid.UUID | str | None, all_patients: bool
) -> set[uuid.UUID]:
    """The profile ids a selection names: ``patient_ids`` as given, the patients of ``run`` (a
    generate run's complete patients, or those an extend run extended) or ``all_patients`` (every
    complete synthetic patient). Exactly one; raises InvalidRequestError (``field`` "selection"
    or "run") otherwise or for an unknown run."""
    if sum((patient_ids is not None, run is not None, bool(all_patients))) != 1:
        raise InvalidRequestError("say which patients: patient ids, one run or all", field="selection")
    if patient_ids is not None:
        return {uuid.UUID(str(i)) for i in patient_ids}
    complete = SyntheticUser.objects.filter(
        state=SyntheticUser.State.COMPLETE, role=SyntheticUser.Role.PATIENT
    )
    if all_patients:
        return set(complete.values_list("user_id", flat=True))
    try:
        found = SyntheticRun.objects.get(pk=uuid.UUID(str(run)))
    except (ValueError, SyntheticRun.DoesNotExist):
        raise InvalidRequestError(f"no synthadmin run with id {run}", field="run") from None
    if found.kind == SyntheticRun.Kind.EXTEND:
        return set(CheckinAddition.objects.filter(run=found).values_list("user_id", flat=True))
    return set(complete.filter(run=found).values_list("user_id", flat=True))


def addition_refusal(profile: Profile, created_by_us: set[uuid.UUID]) -> str | None:
    """Why ``profile`` gets no check-in days added (None: it may), for both ways of adding.

    ``created_by_us``: the ids synthadmin completed (``selectors.users_complete``).
    """
    if not profile_is_synthetic(profile):
        return "a real patient: synthadmin never writes to it"
    if profile.role != Profile.Role.PATIENT:
        return "a therapist has no check-ins"
    if profile.id not in created_by_us:
        return "not created by synthadmin"
    return None


def addition_failure(email: str, exc: BaseException) -> UserFailure:
    """The failure of one patient whose days could not be written (the others still are)."""
    return UserFailure(email, "patient", f"{type(exc).__name__}: {first_line(exc)}")


def addition_report(
    run: SyntheticRun,
    *,
    parameters: dict[str, Any],
    checkins: int,
    failures: list[UserFailure],
    began: float,
    cancelled_by: str = "",
    cancel_for_purge: bool = False,
    patients_extended: int = 0,
) -> RunReport:
    """The report of a finished run that added days (either way): it creates no user, only
    ``checkins`` check-ins, for ``patients_extended`` patients; ``began`` is its
    ``time.monotonic()`` start; ``cancelled_by``, who asked it to stop through the database
    (Cancel, or a purge: ``cancel_for_purge``), if anyone did."""
    return RunReport(
        run_id=run.id,
        status=str(run.status),
        kind=str(run.kind),
        seed=run.seed,
        parameters=parameters,
        patients_created=0,
        therapists_created=0,
        checkins_created=checkins,
        retries={},
        failures=failures,
        error=run.error_summary,
        duration_seconds=round(time.monotonic() - began, 3),
        auth_backend="none",
        cancelled_by=cancelled_by,
        cancel_for_purge=cancel_for_purge,
        patients_extended=patients_extended,
    )


def date_runs(dates: Iterable[dt.date]) -> list[list[str]]:
    """Sorted dates as runs of consecutive days: ``[[first, last], ...]`` (ISO dates)."""
    runs: list[list[str]] = []
    first = last = None
    for day in sorted(dates):
        if last is not None and day == last + dt.timedelta(days=1):
            last = day
            continue
        if first is not None and last is not None:
            runs.append([first.isoformat(), last.isoformat()])
        first = last = day
    if first is not None and last is not None:
        runs.append([first.isoformat(), last.isoformat()])
    return runs


def dates_of(runs: Iterable[list[str]]) -> list[dt.date]:
    """The dates of ``date_runs`` output, in order."""
    days: list[dt.date] = []
    for first, last in runs:
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        while day <= end:
            days.append(day)
            day += dt.timedelta(days=1)
    return days
