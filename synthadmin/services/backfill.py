"""Add check-in days (backfill): more days before each synthetic patient's first check-in.

New days never collide with existing ones nor reach into the future; each patient's days, its
ledger count and its ``CheckinAddition`` record are written in one transaction, all or none.

Patients go in batches of ``SYNTHADMIN_BATCH_USERS``: one transaction per batch holds one COPY
of all its patients' days, one statement for their ledger counts and one for their records (a
few round trips, whatever the batch's size). Should the database refuse the batch, it is rolled
back and its patients written one at a time, so one bad patient costs only its own days.

Between batches it stops when asked: by ``stop`` (a signal), or through the database — Cancel on
its page, or a purge of its run or of a run whose patients it adds days to, sets its cancel flag
(``services.cancel``), which ``run_watch.CancelWatch`` reads; the batch being written is finished
first. Adding days is not idempotent (a second addition adds as many days again): the run records
which patients got them (their ``CheckinAddition``), and a purge of the run removes just those.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from profiles.models import Profile
from synthadmin import content
from synthadmin.db.errors import connection_lost
from synthadmin.exceptions import InvalidRequestError
from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ADDITIONS_BATCH_COPIED, failpoint, watching
from synthadmin.logs import run_logged
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.selectors import users_complete
from synthadmin.services import ledger
from synthadmin.services.additions import (
    BATCH_IN_FLIGHT,
    AdditionRefusal,
    addition_failure,
    addition_refusal,
    addition_report,
    date_runs,
)
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import RunReport, UserFailure
from synthadmin.services.requests import (
    GenerationParams,
    GenerationRequest,
    generation_request_validate,
    history_window_validate,
)
from synthadmin.services.run_locks import changes_runs
from synthadmin.services.run_watch import CancelWatch
from synthadmin.services.writer import checkins_copy, checkins_copy_many

if TYPE_CHECKING:
    from synthadmin.content import PatientHistory


@dataclass
class _Selection:
    """The selected patients who get days (by e-mail), each one's first check-in, and the rest."""

    eligible: list[Profile] = field(default_factory=list)
    first_checkin: dict[uuid.UUID, dt.date] = field(default_factory=dict)
    refusals: list[AdditionRefusal] = field(default_factory=list)


@run_logged()
@changes_runs  # an export of the runs it changes refuses it, and the other way round
def checkins_backfill(
    *,
    patient_ids: Iterable[uuid.UUID],
    days: int,
    pattern: str | None,
    started_by: Starter,
    seed: int | None = None,
    stop: threading.Event | None = None,
) -> tuple[RunReport | None, list[AdditionRefusal]]:
    """Give each selected synthetic patient ``days`` more days of history before its first
    check-in, following ``pattern`` — or, when it is None, the patient's own (the pattern its
    history was generated with), so a cycling patient's new days cycle too.

    Writes: one ``SyntheticRun`` (kind ``extend``), the new check-ins and, per patient, a
    ``CheckinAddition`` naming the added dates; updates the patients' ledger entries. Refuses
    (and returns, named) real patients, therapists and profiles that synthadmin did not create.
    When nobody is eligible it writes nothing and the report is None. Raises
    InvalidRequestError for bad ``days`` (0 included) / ``pattern``. ``stop`` (set by a signal)
    or a cancel of the run (Cancel, a purge of it or of a run of its patients) ends it between
    batches: the patients done keep their days (``RunReport.patients_extended`` of them), the run
    is ``aborted`` and the report's ``cancelled_by`` names who asked through the database. A
    ``stop`` set before the run starts writes nothing (the report is None). A crash, Ctrl-C
    included, is recorded on the run (``aborted`` for Ctrl-C) and re-raised.
    """
    stop = stop or threading.Event()
    _days_validate(days)
    request = generation_request_validate(
        GenerationRequest(patients=1, checkin_days=days, pattern=pattern or "stable", seed=seed)
    )
    selection = _selection(patient_ids, days)
    if not selection.eligible or stop.is_set():
        return None, selection.refusals
    patterns = (
        {profile.id: pattern for profile in selection.eligible}
        if pattern is not None
        else _own_patterns(selection.eligible)
    )

    began = time.monotonic()
    run, parameters = _run_start(request, selection.eligible, started_by, patterns, own=pattern is None)
    written = _Written()
    cancelled = threading.Event()
    watch = CancelWatch(run.pk, cancelled, read_on_exit=False)
    crash: BaseException | None = None
    try:
        with watch, watching(cancelled, stop):  # tests only: where a signal or pause failpoint waits
            _batches_write(run, selection, request, patterns, written, _either(cancelled, stop))
    except BaseException as exc:  # recorded on the run, then re-raised (Ctrl-C included)
        crash = exc
        raise
    finally:
        _run_finish(run, written=written, cancelled_by=watch.requested_by, crash=crash)
    report = addition_report(
        run,
        parameters=parameters,
        checkins=written.checkins,
        failures=written.failures,
        began=began,
        cancelled_by=watch.requested_by,
        cancel_for_purge=watch.for_purge,
        patients_extended=written.patients,
    )
    return report, selection.refusals


@dataclass
class _Written:
    """What a backfill wrote so far: check-ins, patients given days, failures."""

    checkins: int = 0
    patients: int = 0
    failures: list[UserFailure] = field(default_factory=list)
    #: It ended before the last batch: asked to stop (a signal, Cancel, a purge).
    stopped: bool = False


def _either(*events: threading.Event) -> Callable[[], bool]:
    """True once any of ``events`` is set."""
    return lambda: any(event.is_set() for event in events)


def _batches_write(
    run: SyntheticRun,
    selection: _Selection,
    request: GenerationParams,
    patterns: dict[uuid.UUID, str],
    written: _Written,
    stopping: Callable[[], bool],
) -> None:
    """Write the eligible patients' days batch by batch into ``written``, until ``stopping()``."""
    size = settings.SYNTHADMIN_BATCH_USERS
    for first in range(0, len(selection.eligible), size):
        if stopping():
            written.stopped = True
            return
        ledger.run_heartbeat(run)  # alive, for a purge on another host (at most every 30 s)
        batch = [
            _Days(
                profile,
                _history(selection.first_checkin[profile.id], request, patterns[profile.id], index),
            )
            for index, profile in enumerate(selection.eligible[first : first + size], start=first)
        ]
        failed = len(written.failures)
        written.checkins += _batch_backfill(run, batch, written.failures)
        written.patients += len(batch) - (len(written.failures) - failed)


def _days_validate(days: int) -> None:
    if not 1 <= days <= settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
        raise InvalidRequestError(
            f"days must be between 1 and {settings.SYNTHADMIN_MAX_CHECKIN_DAYS:,}, got {days:,}"
            + (": adding 0 days adds nothing" if days == 0 else ""),
            field="checkin_days",
        )


def _selection(patient_ids: Iterable[uuid.UUID], days: int) -> _Selection:
    """Sort the selected profiles into those that get ``days`` more days and those refused."""
    ids = {uuid.UUID(str(i)) for i in patient_ids}
    created_by_us = users_complete(ids)
    selection = _Selection()
    today = timezone.localdate()
    profiles = (
        Profile.objects.filter(id__in=ids)
        .annotate(first_checkin=Coalesce(Min("checkins__checkin_date"), today + dt.timedelta(days=1)))
        .order_by("email")
    )
    for profile in profiles:
        first_checkin: dt.date = profile.first_checkin  # type: ignore[attr-defined]  # annotated above
        selection.first_checkin[profile.id] = first_checkin
        if (reason := addition_refusal(profile, created_by_us)) is not None:
            selection.refusals.append(AdditionRefusal(profile.email or str(profile.id), reason))
        elif (window := _window_refusal(first_checkin, days)) is not None:
            selection.refusals.append(AdditionRefusal(profile.email or str(profile.id), window))
        else:
            selection.eligible.append(profile)
    return selection


def _own_patterns(eligible: list[Profile]) -> dict[uuid.UUID, str]:
    """Each patient's own pattern: the one its stored ground truth names, else its run's (one
    statement for all of them); ``stable`` for a patient whose run recorded none."""
    ids = [profile.id for profile in eligible]
    rows = SyntheticUser.objects.filter(user_id__in=ids, state=SyntheticUser.State.COMPLETE).values_list(
        "user_id", "ground_truth__pattern", "run__parameters__pattern"
    )
    own = {user_id: str(truth or run or "stable") for user_id, truth, run in rows}
    return {user_id: own.get(user_id, "stable") for user_id in ids}


def _run_start(
    request: GenerationParams,
    eligible: list[Profile],
    started_by: Starter,
    patterns: dict[uuid.UUID, str],
    *,
    own: bool,
) -> tuple[SyntheticRun, dict[str, Any]]:
    """The ``extend`` run in the ledger, and its parameters (the request's, who gets days, and
    how many follow each pattern; ``pattern`` None when each continues its own)."""
    parameters = {
        **request.as_parameters(),
        "pattern": None if own else request.pattern,
        "patients": len(eligible),
        "patients_by_pattern": dict(Counter(patterns.values()).most_common()),
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
    return run, parameters


def _run_finish(
    run: SyntheticRun, *, written: _Written, cancelled_by: str, crash: BaseException | None
) -> None:
    failures = written.failures
    interrupted = isinstance(crash, KeyboardInterrupt)
    status, error = ledger.run_status(
        ledger.RunOutcome(
            crash=None if interrupted else crash,
            stopped=written.stopped or interrupted,
            in_flight=BATCH_IN_FLIGHT,
            cancelled_by=cancelled_by,
            failures=len(failures),
            first_failure=failures[0].reason if failures else "",
            created=written.patients,
        )
    )
    ledger.run_finish(
        run, status=status, error=error, checkins_created=written.checkins, users_failed=len(failures)
    )


@dataclass(frozen=True)
class _Days:
    """One patient's new days, built before its batch's transaction opens."""

    profile: Profile
    history: PatientHistory

    @property
    def email(self) -> str:
        return self.profile.email or str(self.profile.id)


def _history(first_checkin: dt.date, request: GenerationParams, pattern: str, index: int) -> PatientHistory:
    """The days before ``first_checkin`` for the ``index``-th eligible patient (its own seed),
    following ``pattern``."""
    return content.build_history(
        pattern=pattern,
        end_date=first_checkin - dt.timedelta(days=1),
        days=request.checkin_days,
        seed=content.patient_seed(request.seed, index),
        adherence=request.adherence,
    )


def _batch_backfill(run: SyntheticRun, batch: list[_Days], failures: list[UserFailure]) -> int:
    """Write ``batch`` in one transaction (one COPY, one ledger statement, one for the records);
    should it fail, one patient at a time. The number of check-ins written."""
    try:
        with transaction.atomic():
            counts = checkins_copy_many(histories=[(d.profile.id, d.history.iter_json_rows()) for d in batch])
            failpoint(ADDITIONS_BATCH_COPIED)  # tests only: inside the batch's transaction
            ledger.entries_checkins_changed(counts)
            CheckinAddition.objects.bulk_create([_record(run, d, counts[d.profile.id]) for d in batch])
    except DatabaseError as exc:
        if connection_lost(exc):
            raise
        return _each_backfill(run, batch, failures)  # rolled back: find who, keep the others
    failpoint(ADDITIONS_AFTER_BATCH)  # tests only: a batch committed, the next not started
    return sum(counts.values())


def _each_backfill(run: SyntheticRun, batch: list[_Days], failures: list[UserFailure]) -> int:
    """Write each patient of ``batch`` in a transaction of its own, all or none; a failure is
    reported and the others still written."""
    written = 0
    for days in batch:
        try:
            with transaction.atomic():
                count = checkins_copy(user_id=days.profile.id, rows=days.history.iter_json_rows())
                ledger.entries_checkins_changed({days.profile.id: count})
                _record(run, days, count).save()
        except DatabaseError as exc:  # one patient's failure must not stop the others; reported
            if connection_lost(exc):
                raise
            failures.append(addition_failure(days.email, exc))
            continue
        written += count
    return written


def _record(run: SyntheticRun, days: _Days, count: int) -> CheckinAddition:
    """The ``CheckinAddition`` naming the days ``days`` added (unsaved)."""
    return CheckinAddition(
        run=run,
        user_id=days.profile.id,
        email=days.email,
        days=date_runs(days.history.checkin_dates),
        checkins=count,
        ground_truth=ground_truth_of(days.history),
    )


def _window_refusal(first_checkin: dt.date, days: int) -> str | None:
    """Why ``days`` more days before ``first_checkin`` cannot be built (None: they can)."""
    if first_checkin <= dt.date.min:
        return "its history already starts on 0001-01-01"
    try:
        history_window_validate(end_date=first_checkin - dt.timedelta(days=1), days=days)
    except InvalidRequestError as exc:
        return str(exc)
    return None
