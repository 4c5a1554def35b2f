"""A dry run: build what a run would write, write nothing anywhere; answers at once at any size.

One rule for the command's ``--dry-run`` and the admin's "Preview": the counts of users are
exact; check-ins and state shares come from the histories of at most ``SAMPLE_PATIENTS``
patients — all of them when there are no more, else a sample stratified by pattern (each
pattern of the mix gets its share of the sample, at least one patient, spread evenly over its
patients) — and are scaled up by each pattern's patient count. ``checkins_exact`` says which.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from synthadmin.content import STATE_BY_CODE, MoodState
from synthadmin.services.population import patient_history, patient_patterns, population_build
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate

if TYPE_CHECKING:
    from synthadmin.content import PatientHistory

SAMPLE_DAYS = 7
PREVIEW_TAG = "dryrun00"
#: The most patients whose histories a preview builds (``_sample``).
SAMPLE_PATIENTS = 50


@dataclass(frozen=True)
class SampleDay:
    date: str
    state: str
    hours_slept: float
    energy: int
    depressed_mood: int
    elevation: int


@dataclass(frozen=True)
class PreviewReport:
    parameters: dict[str, Any]
    therapists: int
    patients: int
    #: Check-ins the run would write: exact when ``checkins_exact``, else the sample's mean per
    #: patient of each pattern times that pattern's patients (an estimate).
    checkins: int
    #: Share of days in each mood state, weighted by each pattern's patients.
    state_shares: dict[str, float]
    sample_patient: str
    sample_days: list[SampleDay]
    #: Patients whose histories were built (at most ``SAMPLE_PATIENTS``).
    sampled_patients: int = 0
    checkins_exact: bool = True
    #: Patients per pattern (exact): the mix's counts, or every patient the one pattern.
    patients_by_pattern: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dry_run"] = True
        return data


def population_preview(*, request: GenerationRequest | GenerationParams) -> PreviewReport:
    """What ``population_generate`` would write for ``request``: counts, the per-state share of
    days, and the first patient's first ``SAMPLE_DAYS`` check-ins (the run's first patient,
    same seed → same name and days). Touches neither Auth nor the database.

    Builds at most ``SAMPLE_PATIENTS`` histories (see the module docstring), so 10,000
    patients x 3,650 days answer as fast as 50. Raises InvalidRequestError for a bad parameter.
    """
    params = generation_request_validate(request)
    # Only the first patient is named (the people are built in order from the seed, so it is
    # the run's first patient); the counts are the request's.
    _therapists, first = population_build(
        seed=params.seed,
        run_tag=PREVIEW_TAG,
        therapists=params.therapists,
        patients=min(params.patients, 1),
        locale=params.locale,
        email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
    )
    estimate = population_estimate(params)
    return PreviewReport(
        parameters=params.as_parameters(),
        therapists=params.therapists,
        patients=params.patients,
        checkins=estimate.checkins,
        state_shares=dict(estimate.state_shares),
        sample_patient=first[0].full_name if first else "",
        sample_days=list(estimate.sample_days),
        sampled_patients=estimate.sampled_patients,
        checkins_exact=estimate.checkins_exact,
        patients_by_pattern=patients_by_pattern(params),
    )


def patients_by_pattern(params: GenerationParams) -> dict[str, int]:
    """How many patients of the run follow each pattern (the mix's exact counts, or all one)."""
    if params.mix is not None:
        return dict(params.mix)
    return {params.pattern: params.patients} if params.patients else {}


@dataclass(frozen=True)
class PopulationEstimate:
    """What the sampled histories say of a whole population (``population_estimate``)."""

    checkins: int
    checkins_exact: bool
    sampled_patients: int
    state_shares: dict[str, float]
    sample_days: tuple[SampleDay, ...]


def population_estimate(params: GenerationParams) -> PopulationEstimate:
    """The check-ins and state shares of the population ``params`` describe, from the histories
    of at most ``SAMPLE_PATIENTS`` of its patients (the module docstring's rule): the one
    estimate the Preview, ``--dry-run`` and a run's page all show. Pure and remembered per
    parameters, so a page polled every second builds nothing again."""
    mix = tuple(params.mix.items()) if params.mix is not None else None  # in order: the patients
    return _estimate(
        params.seed,
        params.patients,
        params.pattern,
        mix,
        params.checkin_days,
        params.end_date,
        params.adherence,
    )


@functools.lru_cache(maxsize=64)
def _estimate(
    seed: int,
    patients: int,
    pattern: str,
    mix: tuple[tuple[str, int], ...] | None,
    days: int,
    end_date: dt.date,
    adherence: float,
) -> PopulationEstimate:
    patterns = patient_patterns(dict(mix)) if mix is not None else [pattern] * patients
    by_pattern: dict[str, list[int]] = {}
    for index, name in enumerate(patterns):
        by_pattern.setdefault(name, []).append(index)
    checkins = 0.0
    shares: dict[int, float] = {}
    sample: list[SampleDay] = []
    sampled = 0
    allocation = _allocation(by_pattern)
    for name, indices in by_pattern.items():
        chosen = _sample(indices, allocation[name])
        counted: Counter[int] = Counter()
        pattern_checkins = 0
        for index in chosen:
            history = patient_history(
                seed=seed,
                patient_index=index,
                pattern=name,
                days=days,
                end_date=end_date,
                adherence=adherence,
            )
            pattern_checkins += len(history)
            counted.update(int(code) for code in history.daily_states.tolist())
            if index == 0:
                sample = _first_days(history)
        sampled += len(chosen)
        weight = len(indices) / len(patterns)
        checkins += pattern_checkins * len(indices) / len(chosen)
        total_days = sum(counted.values())
        for code, count in counted.items():
            shares[code] = shares.get(code, 0.0) + weight * count / total_days
    state_shares = {str(STATE_BY_CODE[code]): round(share, 4) for code, share in sorted(shares.items())}
    for state in MoodState:
        state_shares.setdefault(str(state), 0.0)
    return PopulationEstimate(
        checkins=round(checkins),
        checkins_exact=sampled == patients,
        sampled_patients=sampled,
        state_shares=state_shares,
        sample_days=tuple(sample),
    )


def _allocation(by_pattern: dict[str, list[int]]) -> dict[str, int]:
    """How many of each pattern's patients to build: all when they are ``SAMPLE_PATIENTS`` or
    fewer, else a share proportional to the pattern's patients, at least one each."""
    total = sum(len(indices) for indices in by_pattern.values())
    if total <= SAMPLE_PATIENTS:
        return {pattern: len(indices) for pattern, indices in by_pattern.items()}
    return {
        pattern: max(1, min(len(indices), SAMPLE_PATIENTS * len(indices) // total))
        for pattern, indices in by_pattern.items()
    }


def _sample(indices: list[int], count: int) -> list[int]:
    """``count`` of ``indices`` spread evenly, the first always included (the sample patient)."""
    if count >= len(indices):
        return indices
    step = len(indices) / count
    return [indices[int(n * step)] for n in range(count)]


def _first_days(history: PatientHistory) -> list[SampleDay]:
    states = history.checkin_states()
    days: list[SampleDay] = []
    for (day, payload), state in zip(history.iter_payloads(), states, strict=False):
        if len(days) == SAMPLE_DAYS:
            break
        mood = payload["mood_data"]
        days.append(
            SampleDay(
                date=day.isoformat(),
                state=str(state),
                hours_slept=payload["sleep_data"]["hoursSlept"],
                energy=int(mood["energyLevel"]),
                depressed_mood=int(mood["depressedMood"]),
                elevation=int(mood["elevation"]),
            )
        )
    return days
