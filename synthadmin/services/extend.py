"""Add check-in days to existing synthetic patients (never to real ones).

The new days come before each patient's earliest check-in, so they never collide with the
days it already has (``unique_checkin_per_user_per_day``) and never reach into the future.
Each patient's new days go in with one COPY, in one transaction that also updates its ledger
entry and records exactly which days were added (``CheckinAddition``: the dates and their ground
truth), so purging the run removes exactly those check-ins (``services.extend_purge``): a
patient gets all its new days, and their record, or none.

A selection with no synthetic patient synthadmin created writes nothing, not even a run.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from profiles.models import Profile
from synthadmin.content import build_history, patient_seed
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import CheckinAddition, SyntheticRun
from synthadmin.selectors import profile_is_synthetic, users_complete
from synthadmin.services import ledger
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import RunReport, UserFailure
from synthadmin.services.requests import (
    GenerationRequest,
    generation_request_validate,
    history_window_validate,
)
from synthadmin.services.writer import checkins_copy


@dataclass(frozen=True)
class ExtendRefusal:
    email: str
    reason: str


def synthetic_checkins_extend(
    *,
    patient_ids: Iterable[uuid.UUID],
    days: int,
    pattern: str,
    started_by: Starter,
    seed: int | None = None,
) -> tuple[RunReport | None, list[ExtendRefusal]]:
    """Give each selected synthetic patient ``days`` more days of history, following ``pattern``.

    Writes: one ``SyntheticRun`` (kind ``extend``), the new check-ins and, per patient, a
    ``CheckinAddition`` naming the added dates; updates the patients' ledger entries. Refuses
    (and returns, named) real patients, therapists and profiles that synthadmin did not create.
    When nobody is eligible it writes nothing and the report is None. Raises
    InvalidRequestError for bad ``days`` (0 included) / ``pattern``.
    """
    if not 1 <= days <= settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
        raise InvalidRequestError(
            f"days must be between 1 and {settings.SYNTHADMIN_MAX_CHECKIN_DAYS:,}, got {days:,}"
            + (": adding 0 days adds nothing" if days == 0 else ""),
            field="checkin_days",
        )
    request = generation_request_validate(
        GenerationRequest(patients=1, checkin_days=days, pattern=pattern, seed=seed)
    )
    ids = {uuid.UUID(str(i)) for i in patient_ids}
    created_by_us = users_complete(ids)
    refusals: list[ExtendRefusal] = []
    eligible: list[Profile] = []
    today = timezone.localdate()
    profiles = (
        Profile.objects.filter(id__in=ids)
        .annotate(first_checkin=Coalesce(Min("checkins__checkin_date"), today + dt.timedelta(days=1)))
        .order_by("email")
    )
    first_checkin: dict[uuid.UUID, dt.date] = {}
    for profile in profiles:
        first_checkin[profile.id] = profile.first_checkin  # type: ignore[attr-defined]  # annotated above
        if (reason := extend_refusal(profile, created_by_us)) is not None:
            refusals.append(ExtendRefusal(profile.email or str(profile.id), reason))
        elif (window := _window_refusal(first_checkin[profile.id], days)) is not None:
            refusals.append(ExtendRefusal(profile.email or str(profile.id), window))
        else:
            eligible.append(profile)

    if not eligible:
        return None, refusals

    began = time.monotonic()
    parameters = {
        **request.as_parameters(),
        "patients": len(eligible),
        "patient_ids": sorted(str(p.id) for p in eligible),
    }
    parameters.pop("therapists", None)
    run = ledger.run_start(
        kind=SyntheticRun.Kind.EXTEND,
        started_by=started_by,
        parameters=parameters,
        seed=request.seed,
        auth_backend="none",
    )
    written = 0
    failures: list[UserFailure] = []
    for index, profile in enumerate(eligible):
        history = build_history(
            pattern=request.pattern,
            end_date=first_checkin[profile.id] - dt.timedelta(days=1),
            days=days,
            seed=patient_seed(request.seed, index),
            adherence=request.adherence,
        )
        try:
            with transaction.atomic():
                count = checkins_copy(user_id=profile.id, rows=history.iter_json_rows())
                ledger.entries_checkins_added(profile.id, count)
                CheckinAddition.objects.create(
                    run=run,
                    user_id=profile.id,
                    email=profile.email or str(profile.id),
                    days=date_runs(history.checkin_dates),
                    checkins=count,
                    ground_truth=ground_truth_of(history),
                )
        except DatabaseError as exc:  # one patient's failure must not stop the others; reported
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            failures.append(UserFailure(profile.email or str(profile.id), "patient", reason))
            continue
        written += count
    status, error = ledger.run_status(
        ledger.RunOutcome(
            failures=len(failures),
            first_failure=failures[0].reason if failures else "",
            created=len(eligible) - len(failures),
        )
    )
    ledger.run_finish(run, status=status, error=error, checkins_created=written, users_failed=len(failures))
    return extend_report(
        run, parameters=parameters, checkins=written, failures=failures, began=began
    ), refusals


def extend_report(
    run: SyntheticRun, *, parameters: dict[str, Any], checkins: int, failures: list[UserFailure], began: float
) -> RunReport:
    """The report of a finished extend run (either way of extending): it creates no user, only
    ``checkins`` check-ins; ``began`` is its ``time.monotonic()`` start."""
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
    )


def extend_refusal(profile: Profile, created_by_us: set[uuid.UUID]) -> str | None:
    """Why ``profile`` gets no check-in days added (None: it may), for every way of extending.

    ``created_by_us``: the ids synthadmin completed (``selectors.users_complete``).
    """
    if not profile_is_synthetic(profile):
        return "a real patient: synthadmin never writes to it"
    if profile.role != Profile.Role.PATIENT:
        return "a therapist has no check-ins"
    if profile.id not in created_by_us:
        return "not created by synthadmin"
    return None


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


def _window_refusal(first_checkin: dt.date, days: int) -> str | None:
    """Why ``days`` more days before ``first_checkin`` cannot be built (None: they can)."""
    if first_checkin <= dt.date.min:
        return "its history already starts on 0001-01-01"
    try:
        history_window_validate(end_date=first_checkin - dt.timedelta(days=1), days=days)
    except InvalidRequestError as exc:
        return str(exc)
    return None
