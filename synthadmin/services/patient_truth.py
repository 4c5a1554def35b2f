"""A synthetic patient's ground truth as charts, exports and filters read it.

The truth of a patient is the one stored with its generating ledger entry
(``SyntheticUser.ground_truth``) plus that of every "Add check-in days" run still in place
(``CheckinAddition.ground_truth``): together they give the mood state of every day the patient
has a check-in for.

**Patients generated before ground truth was stored** have ``{}`` on their entry. Their truth is
regenerated from the run's seed and parameters with the content engine, as the run built it
(``synthadmin.services.generation``): a run numbers its users ``0 .. therapists + patients - 1``,
therapists first (``population_build``), and that number is in each user's e-mail
(``<username>.<run tag>.<number>[-r<attempt>]@<domain>``, ``profiles.identities.synthetic_email``,
the same number on a retried attempt); the patient's history index — the ``patient_index`` of
``population.patient_history``, the child seed of ``patient_seed(run.seed, index)`` — is
``number - therapists``. The history is a pure function of (pattern, end date, days, that seed,
adherence), all in ``run.parameters``, so the regenerated truth is exactly what was written.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, CharField, F, OuterRef, Q, Subquery, When

from synthadmin.models import CheckinAddition, StateInterval, SyntheticRun, SyntheticUser
from synthadmin.services.ground_truth import ground_truth_of, state_by_day
from synthadmin.services.population import patient_history

_NUMBER = re.compile(r"\.(\d+)(?:-r\d+)?@[^@]+$")

#: ``(state, first_day, last_day)``: a run of days in one mood state.
Run = tuple[str, dt.date, dt.date]


@dataclass(frozen=True)
class PatientTruth:
    """What a synthetic patient was generated to be: pattern, run and the state of each day."""

    user_id: uuid.UUID
    run_id: uuid.UUID | None
    pattern: str
    #: ``[state, first_day, last_day]`` runs, date order, generating window and additions.
    states: list[Run] = field(default_factory=list)
    regenerated: bool = False

    def state_by_day(self) -> dict[dt.date, str]:
        """Every covered day → its mood state."""
        return state_by_day({"states": [[s, a.isoformat(), b.isoformat()] for s, a, b in self.states]})

    @property
    def start(self) -> dt.date | None:
        return self.states[0][1] if self.states else None

    @property
    def end(self) -> dt.date | None:
        return self.states[-1][2] if self.states else None


def patient_index(entry: SyntheticUser, run: SyntheticRun) -> int:
    """The history index of a generated patient in its run (see the module docstring)."""
    match = _NUMBER.search(entry.email)
    if match is None:
        raise ValueError(f"{entry.email}: not a synthetic e-mail with a user number")
    index = int(match.group(1)) - int(run.parameters.get("therapists") or 0)
    if index < 0:
        raise ValueError(f"{entry.email}: its number belongs to a therapist of the run")
    return index


def ground_truth_regenerate(*, entry: SyntheticUser) -> dict[str, Any]:
    """The ground truth of a patient whose entry has none, rebuilt from its run (pure read).

    Returns ``{}`` when the run never gave it a history (no check-in days, a therapist).
    """
    run = entry.run
    params = run.parameters
    days = int(params.get("checkin_days") or 0)
    if entry.role != SyntheticUser.Role.PATIENT or not days or run.kind != SyntheticRun.Kind.GENERATE:
        return {}
    history = patient_history(
        seed=run.seed,
        patient_index=patient_index(entry, run),
        pattern=params["pattern"],
        days=days,
        end_date=dt.date.fromisoformat(params["end_date"]),
        adherence=float(params["adherence"]),
    )
    return ground_truth_of(history)


def patient_truth_get(*, user_id: uuid.UUID) -> PatientTruth | None:
    """The truth of ``user_id``, or None when synthadmin did not generate it (a real profile)."""
    entry = (
        SyntheticUser.objects.filter(user_id=user_id, state=SyntheticUser.State.COMPLETE)
        .select_related("run")
        .order_by("-id")
        .first()
    )
    if entry is None:
        return None
    return patient_truths_of([entry])[user_id]


def patient_truths_of(entries: Sequence[SyntheticUser]) -> dict[uuid.UUID, PatientTruth]:
    """The truths of the patients of these ``complete`` ledger entries (their ``run`` loaded, one
    entry per user), in one query for all of them: their additions still in place."""
    additions: dict[uuid.UUID, list[CheckinAddition]] = defaultdict(list)
    users = [entry.user_id for entry in entries]
    for addition in CheckinAddition.objects.filter(user_id__in=users, removed_at__isnull=True).order_by("id"):
        additions[addition.user_id].append(addition)
    return {entry.user_id: _truth(entry, additions[entry.user_id]) for entry in entries}


def _truth(entry: SyntheticUser, additions: list[CheckinAddition]) -> PatientTruth:
    truth = entry.ground_truth
    regenerated = False
    if not truth:
        truth = ground_truth_regenerate(entry=entry)
        regenerated = bool(truth)
    # The entry's runs, then each addition's in the order they were made: the later wins.
    sources = [[_run(r) for r in truth.get("states", [])]]
    sources += [[_run(r) for r in addition.ground_truth.get("states", [])] for addition in additions]
    runs = truth_runs_merge(sources)
    pattern = truth.get("pattern") or entry.run.parameters.get("pattern", "")
    return PatientTruth(
        user_id=entry.user_id, run_id=entry.run_id, pattern=pattern, states=runs, regenerated=regenerated
    )


def _run(stored: list[str]) -> Run:
    state, first, last = stored
    return state, dt.date.fromisoformat(first), dt.date.fromisoformat(last)


def truth_runs_merge(sources: list[list[Run]]) -> list[Run]:
    """One patient's state runs from several sources (its generating entry, then each addition
    in the order they were made): where windows overlap, the later source wins — a backfill over
    a patient's missed first days wrote the check-ins of those days, so its truth is theirs.

    Returns non-overlapping runs in date order, each source's runs clipped by every later one's
    (the rule ``synthadmin_stateinterval`` is kept by, migration 0010). Pure.
    """
    merged: list[Run] = []
    taken: list[tuple[dt.date, dt.date]] = []  # days claimed by later sources, as closed ranges
    for runs in reversed(sources):
        for state, first, last in runs:
            merged.extend((state, a, b) for a, b in _uncovered(first, last, taken))
        taken.extend((first, last) for _, first, last in runs)
    return sorted(merged, key=lambda run: run[1])


def _uncovered(
    first: dt.date, last: dt.date, taken: list[tuple[dt.date, dt.date]]
) -> list[tuple[dt.date, dt.date]]:
    """The parts of ``[first, last]`` that no range of ``taken`` covers."""
    pieces = [(first, last)]
    day = dt.timedelta(days=1)
    for a, b in taken:
        kept = []
        for lo, hi in pieces:
            if b < lo or hi < a:
                kept.append((lo, hi))
                continue
            if lo < a:
                kept.append((lo, a - day))
            if b < hi:
                kept.append((b + day, hi))
        pieces = kept
    return pieces


def checkin_day_state() -> Subquery:
    """The ground-truth state of a ``public.check_ins`` row's day, or NULL: one entry of the
    intervals' ``(user_id, first_day)`` index per row it is computed for — the patient's last
    interval starting on or before the day, if it reaches the day (intervals never overlap).
    Patients whose entry has no stored truth (generated before ground truth existed) give NULL
    here; ``patient_truth_get`` regenerates theirs.
    """
    latest = (
        StateInterval.objects.filter(user_id=OuterRef("user_id"), first_day__lte=OuterRef("checkin_date"))
        .order_by("-first_day")
        .values(s=Case(When(last_day__gte=OuterRef("checkin_date"), then=F("state"))))[:1]
    )
    return Subquery(latest, output_field=CharField())


def checkin_day_in_state(state: str) -> Q:
    """The condition "this check-in's day is in ``state``", on ``public.check_ins``: a join on
    the patient's intervals (``Profile.state_intervals``) that PostgreSQL can drive from either
    side — the check-ins in date order, probing the intervals' index, or the state's intervals,
    each then reading its days through the app's ``(user_id, checkin_date)`` index. Intervals
    never overlap, so a check-in matches at most one: the join adds no row.
    """
    return Q(
        user__state_interval__state=state,
        user__state_interval__first_day__lte=F("checkin_date"),
        user__state_interval__last_day__gte=F("checkin_date"),
    )
