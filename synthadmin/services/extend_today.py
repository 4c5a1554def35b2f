"""Extend to today: each synthetic patient's missing days after its last generated day.

The mood chain continues from the patient's stored ground truth (its ledger entry's, plus that
of every addition still in place): the last day's state, its episode and the days already spent
in it carry on (``content.EpisodeInProgress``), so the join never jumps; the patient keeps its
own seed, traits and adherence. Writes one ``extend`` run (``parameters["mode"] == "to_today"``);
per patient all or nothing, never a duplicate date; a second call the same day writes nothing.

Patients go in batches of ``SYNTHADMIN_BATCH_USERS``, each in one transaction and a few round
trips: one pipelined read that locks the batch's ledger entries and reads what a concurrent
extension already wrote, one COPY of every patient's new days, one statement for the ledger
counts and one for the ``CheckinAddition`` records. Should the database refuse the batch, it is
rolled back and its patients written one at a time, so one bad patient costs only its own days.

Between batches it stops when asked: by ``stop`` (a signal), or through the database — Cancel on
its page, or a purge of its run or of a run whose patients it extends, sets its cancel flag
(``services.cancel``),
which ``run_watch.CancelWatch`` reads; the batch being written is finished first.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from profiles.models import Profile
from synthadmin import content
from synthadmin.content import DEFAULT_ADHERENCE, MoodState
from synthadmin.failpoints import watching
from synthadmin.logs import run_logged
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.selectors import users_complete
from synthadmin.services import ledger
from synthadmin.services.additions import (
    BATCH_IN_FLIGHT,
    AdditionRefusal,
    addition_refusal,
    addition_report,
    patients_selected,
)
from synthadmin.services.extend_batches import Tally, TodayPlan, today_batch_write
from synthadmin.services.ledger import Starter
from synthadmin.services.patient_truth import ground_truth_regenerate, patient_index
from synthadmin.services.reports import NullProgress, ProgressListener, RunReport
from synthadmin.services.run_locks import changes_runs
from synthadmin.services.run_watch import CancelWatch

if TYPE_CHECKING:
    import numpy as np

    from synthadmin.content import PatientTraits

#: The progress phase this service reports (one step per patient considered).
PHASE_PATIENTS = "patients"
MODE = "to_today"


@dataclass(frozen=True)
class TodayExtension:
    """What ``checkins_extend_to_today`` did.

    ``report`` is None when nothing was written (no run either); ``refusals`` names the
    profiles left alone and why; ``up_to_date`` counts patients that already reached ``today``.
    """

    today: dt.date
    report: RunReport | None
    refusals: list[AdditionRefusal] = field(default_factory=list)
    up_to_date: int = 0
    patients_extended: int = 0
    stopped: bool = False
    #: Who asked the run to stop through the database (Cancel, a purge), if anyone did.
    cancelled_by: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "patients_extended": self.patients_extended,
            "up_to_date": self.up_to_date,
            "stopped": self.stopped,
            "cancelled_by": self.cancelled_by,
            "refusals": [r.as_dict() for r in self.refusals],
            "run": self.report.as_dict() if self.report is not None else None,
        }


@run_logged()
@changes_runs  # an export of the runs it changes refuses it, and the other way round
def checkins_extend_to_today(
    *,
    patient_ids: Iterable[uuid.UUID] | None = None,
    run: uuid.UUID | str | None = None,
    all_patients: bool = False,
    started_by: Starter,
    progress: ProgressListener | None = None,
    stop: threading.Event | None = None,
) -> TodayExtension:
    """Add each selected synthetic patient's missing days up to today (see the module docstring).

    Select with exactly one of ``patient_ids`` (profiles; real ones, therapists and profiles
    synthadmin did not create are refused and named), ``run`` (the patients a generate run
    created, or those an extend run extended) or ``all_patients`` (every synthetic patient).
    "Today" is ``timezone.localdate()`` (``settings.TIME_ZONE``). ``progress`` gets phase
    ``"patients"`` with the number of patients considered and one step per patient. ``stop``
    (set by a signal, a cancel button) ends the run between batches of patients: those done keep
    their days, the run is recorded ``aborted`` and ``TodayExtension.stopped`` is True; so does
    the run's cancel flag (Cancel on its page, a purge of it or of a run of its patients), and
    then ``TodayExtension.cancelled_by`` names who set it.

    Writes one ``SyntheticRun`` (kind ``extend``) and, per patient, its new check-ins, a
    ``CheckinAddition`` (dates and ground truth) and its ledger count. Returns a
    :class:`TodayExtension`; its report is None when nothing needed writing. Raises
    InvalidRequestError (``field`` "run" or "selection") for a bad or unknown selection, before
    anything is written. A patient whose write fails is reported in the run's failures; the
    others are still extended.
    """
    progress = progress or NullProgress()
    today = timezone.localdate()
    candidates, refusals = _candidates(patient_ids=patient_ids, run=run, all_patients=all_patients)
    progress.phase(PHASE_PATIENTS, len(candidates))
    plans, not_planned, up_to_date = _plans_sorted(candidates, today, progress)
    refusals += not_planned
    if not plans:
        return TodayExtension(today=today, report=None, refusals=refusals, up_to_date=up_to_date)
    if stop is not None and stop.is_set():  # asked to stop while choosing: no run, nothing written
        return TodayExtension(
            today=today, report=None, refusals=refusals, up_to_date=up_to_date, stopped=True
        )

    began = time.monotonic()
    run_row, parameters = _run_start(plans, today, started_by)
    tally = Tally(up_to_date=up_to_date)
    _plans_write(run_row, plans, today, tally, progress=progress, stop=stop)
    if not (tally.written or tally.extended or tally.failures or tally.stopped or tally.cancelled_by):
        _run_discard(run_row)
        return TodayExtension(today=today, report=None, refusals=refusals, up_to_date=tally.up_to_date)
    report = addition_report(
        run_row,
        parameters=parameters,
        checkins=tally.written,
        failures=tally.failures,
        began=began,
        cancelled_by=tally.cancelled_by,
        cancel_for_purge=tally.cancel_for_purge,
        patients_extended=tally.extended,
    )
    return TodayExtension(
        today=today,
        report=report,
        refusals=refusals,
        up_to_date=tally.up_to_date,
        patients_extended=tally.extended,
        stopped=tally.stopped,
        cancelled_by=tally.cancelled_by,
    )


def _candidates(
    *, patient_ids: Iterable[uuid.UUID] | None, run: uuid.UUID | str | None, all_patients: bool
) -> tuple[dict[uuid.UUID, Profile], list[AdditionRefusal]]:
    """The selected profiles that may get days (annotated with ``last_checkin``), and the refused."""
    ids = patients_selected(patient_ids=patient_ids, run=run, all_patients=all_patients)
    created_by_us = users_complete(ids)
    profiles = (
        Profile.objects.filter(id__in=ids)
        .annotate(last_checkin=Max("checkins__checkin_date"))
        .order_by("email")
    )
    refusals: list[AdditionRefusal] = []
    candidates: dict[uuid.UUID, Profile] = {}
    for profile in profiles:
        if (reason := addition_refusal(profile, created_by_us)) is not None:
            refusals.append(AdditionRefusal(profile.email or str(profile.id), reason))
        else:
            candidates[profile.id] = profile
    return candidates, refusals


def _plans_sorted(
    candidates: dict[uuid.UUID, Profile], today: dt.date, progress: ProgressListener
) -> tuple[list[TodayPlan], list[AdditionRefusal], int]:
    """The candidates' plans, their refusals and how many already reach today (a step each)."""
    plans: list[TodayPlan] = []
    refusals: list[AdditionRefusal] = []
    up_to_date = 0
    for plan_or_reason in _plans(candidates, today):
        if isinstance(plan_or_reason, TodayPlan):
            plans.append(plan_or_reason)
        elif plan_or_reason is None:
            up_to_date += 1
            progress.advance(PHASE_PATIENTS)
        else:
            refusals.append(plan_or_reason)
            progress.advance(PHASE_PATIENTS)
    return plans, refusals, up_to_date


def _run_start(
    plans: list[TodayPlan], today: dt.date, started_by: Starter
) -> tuple[SyntheticRun, dict[str, Any]]:
    """The ``extend`` run (mode ``to_today``) in the ledger, and its parameters."""
    parameters = {
        "mode": MODE,
        "until": today.isoformat(),
        "patients": len(plans),
        # What the run page says while it runs (``figures.run_figures``): days x adherence each.
        "checkins_expected": round(sum(p.days * p.adherence for p in plans)),
        "patient_ids": sorted(str(p.user_id) for p in plans),
    }
    run_row = ledger.run_start(
        kind=SyntheticRun.Kind.EXTEND,
        started_by=started_by,
        parameters=parameters,
        seed=0,  # each patient's days come from its own seed (content.continuation_seed)
        auth_backend="none",
    )
    return run_row, parameters


def _plans_write(
    run_row: SyntheticRun,
    plans: list[TodayPlan],
    today: dt.date,
    tally: Tally,
    *,
    progress: ProgressListener,
    stop: threading.Event | None,
) -> None:
    """Write ``plans`` chunk by chunk into ``tally`` until ``stop`` is set or the run's cancel
    flag is (``CancelWatch``), then record the run's end (also on a crash, Ctrl-C included,
    which is re-raised)."""
    crash: BaseException | None = None
    cancelled = threading.Event()
    watch = CancelWatch(run_row.pk, cancelled, read_on_exit=False)
    # Tests only: what a signal or pause failpoint at a batch boundary waits for.
    watched = (cancelled,) if stop is None else (cancelled, stop)
    try:
        with watch, watching(*watched):
            size = settings.SYNTHADMIN_BATCH_USERS
            for first in range(0, len(plans), size):
                if cancelled.is_set() or (stop is not None and stop.is_set()):
                    tally.stopped = True
                    break
                ledger.run_heartbeat(run_row)  # alive, for a purge on another host (at most every 30 s)
                batch = plans[first : first + size]
                tally.add(today_batch_write(run_row, batch, today))
                progress.advance(PHASE_PATIENTS, len(batch))
    except BaseException as exc:  # recorded on the run, then re-raised (Ctrl-C included)
        crash = exc
        raise
    finally:
        tally.cancelled_by, tally.cancel_for_purge = watch.requested_by, watch.for_purge
        _run_finish(run_row, tally, crash)


def _run_finish(run_row: SyntheticRun, tally: Tally, crash: BaseException | None) -> None:
    interrupted = isinstance(crash, KeyboardInterrupt)
    status, error = ledger.run_status(
        ledger.RunOutcome(
            crash=None if interrupted else crash,
            stopped=tally.stopped or interrupted,
            cancelled_by=tally.cancelled_by,
            failures=len(tally.failures),
            first_failure=tally.failures[0].reason if tally.failures else "",
            created=tally.extended,
            in_flight=BATCH_IN_FLIGHT,
        )
    )
    ledger.run_finish(
        run_row, status=status, error=error, checkins_created=tally.written, users_failed=len(tally.failures)
    )


def _run_discard(run_row: SyntheticRun) -> None:
    """Delete a run that added nothing: everyone turned out up to date (a concurrent extension
    got there first), so no run is kept either."""
    with transaction.atomic():
        CheckinAddition.objects.filter(run=run_row).delete()
        run_row.delete()


def _plans(
    candidates: dict[uuid.UUID, Profile], today: dt.date
) -> Iterable[TodayPlan | AdditionRefusal | None]:
    """Per candidate: its plan, a refusal, or None when it already reaches today."""
    entries: dict[uuid.UUID, SyntheticUser] = {}
    for entry in (
        SyntheticUser.objects.filter(user_id__in=list(candidates), state=SyntheticUser.State.COMPLETE)
        .select_related("run")
        .order_by("id")
    ):
        entries[entry.user_id] = entry  # the latest complete entry, as patient_truth_get reads it
    additions: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for user_id, truth in CheckinAddition.objects.filter(
        user_id__in=list(candidates), removed_at__isnull=True
    ).values_list("user_id", "ground_truth"):
        if truth:
            additions.setdefault(user_id, []).append(truth)
    for user_id, profile in candidates.items():
        email = profile.email or str(user_id)
        last_checkin = profile.last_checkin  # type: ignore[attr-defined]  # annotated by the caller
        if last_checkin is not None and last_checkin >= today:
            yield None
            continue
        try:
            yield _plan(entries[user_id], additions.get(user_id, []), today, email)
        except _NoPlanError as exc:
            yield AdditionRefusal(email, str(exc))
        except _UpToDateError:
            yield None


class _NoPlanError(Exception):
    """Why a patient's history cannot be continued (its message is the refusal's reason)."""


class _UpToDateError(Exception):
    """The patient's stored truth already reaches today."""


def _plan(entry: SyntheticUser, additions: list[dict[str, Any]], today: dt.date, email: str) -> TodayPlan:
    truth = entry.ground_truth
    if not truth:
        try:
            truth = ground_truth_regenerate(entry=entry)
        except (ValueError, KeyError) as exc:
            raise _NoPlanError(f"its ground truth cannot be rebuilt from its run: {exc}") from None
    windows = [w for w in (truth, *additions) if w.get("states")]
    if not windows:
        raise _NoPlanError("it has no generated history to continue")
    latest = max(windows, key=lambda w: w["end"])
    end = dt.date.fromisoformat(latest["end"])
    if end >= today:
        raise _UpToDateError
    days = (today - end).days
    if days > settings.SYNTHADMIN_MAX_CHECKIN_DAYS:
        raise _NoPlanError(
            f"its history ended on {end.isoformat()}, more than "
            f"{settings.SYNTHADMIN_MAX_CHECKIN_DAYS:,} days (SYNTHADMIN_MAX_CHECKIN_DAYS) ago"
        )
    state, days_in_state = _last_run(windows, end)
    episodes = latest.get("episodes") or []
    last = episodes[-1] if episodes and episodes[-1].get("end") == latest["end"] else None
    where = content.EpisodeInProgress(
        state=MoodState(state),
        days_in_state=days_in_state,
        kind=last["kind"] if last is not None and last.get("state") == state else None,
        true_days=int(last["true_days"]) if last is not None and last.get("state") == state else None,
    )
    seed, traits = _patient_seed_and_traits(entry, truth)
    start = end + dt.timedelta(days=1)
    return TodayPlan(
        user_id=entry.user_id,
        entry_id=entry.pk,
        email=email,
        pattern=latest.get("pattern") or truth.get("pattern") or entry.run.parameters.get("pattern", ""),
        start=start,
        days=days,
        where=where,
        seed=content.continuation_seed(seed, start),
        traits=traits,
        adherence=float(entry.run.parameters.get("adherence") or DEFAULT_ADHERENCE),
    )


def _last_run(windows: list[dict[str, Any]], end: dt.date) -> tuple[str, int]:
    """The state of day ``end`` and how many days in a row, back from it, had that state.

    Walks back over adjacent windows (an earlier extension's days continue its episode); the
    chain never repeats a state, so a run of equal days is one episode.
    """
    by_end: dict[dt.date, tuple[str, dt.date]] = {}
    for window in windows:
        for state, first, last in window["states"]:
            by_end[dt.date.fromisoformat(last)] = (state, dt.date.fromisoformat(first))
    state, first = by_end[end]
    while (before := by_end.get(first - dt.timedelta(days=1))) is not None and before[0] == state:
        first = before[1]
    return state, (end - first).days + 1


def _patient_seed_and_traits(
    entry: SyntheticUser, truth: dict[str, Any]
) -> tuple[np.random.SeedSequence, PatientTraits | None]:
    """The patient's own seed and traits (those its first history drew), when its run says them.

    A patient whose number cannot be read from its e-mail gets a seed from its id and fresh
    traits: still deterministic, only not the first history's habits.
    """
    run = entry.run
    params = run.parameters
    try:
        index = patient_index(entry, run)
    except ValueError:
        import numpy as np  # the engine's: loaded only by a process that extends histories

        return np.random.SeedSequence(entry.user_id.int), None
    seed = content.patient_seed(run.seed, index)
    days = int(params.get("checkin_days") or 0)
    pattern = truth.get("pattern") or params.get("pattern")
    if run.kind != SyntheticRun.Kind.GENERATE or not days or not pattern:
        return seed, None
    return seed, content.patient_traits(pattern=pattern, days=days, seed=seed)


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def extend_to_today_task() -> dict[str, object]:
    """The scheduled top-up as a task: every synthetic patient's history extended to today
    (``checkins_extend_to_today(all_patients=True)``); returns what it did."""
    starter = Starter("task:extend_to_today", source=SyntheticRun.Source.API)
    return checkins_extend_to_today(all_patients=True, started_by=starter).as_dict()
