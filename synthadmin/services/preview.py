"""A dry run: build the whole population exactly as a run would, write nothing anywhere."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from synthadmin.content import STATE_BY_CODE, MoodState
from synthadmin.services.population import patient_history, population_build
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate

SAMPLE_DAYS = 7
PREVIEW_TAG = "dryrun00"


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
    checkins: int
    state_shares: dict[str, float]
    sample_patient: str
    sample_days: list[SampleDay]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dry_run"] = True
        return data


def synthetic_generate_preview(*, request: GenerationRequest | GenerationParams) -> PreviewReport:
    """What ``synthetic_generate`` would write for ``request``: counts, the per-state share of
    days, and a sample patient's first days. Touches neither Auth nor the database.

    Raises InvalidRequestError for a bad parameter. Histories are built one at a time, so
    memory stays flat however large the request.
    """
    params = generation_request_validate(request)
    therapists, patients = population_build(
        seed=params.seed,
        run_tag=PREVIEW_TAG,
        therapists=params.therapists,
        patients=params.patients,
        locale=params.locale,
        email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
    )
    days: Counter[int] = Counter()
    checkins = 0
    sample: list[SampleDay] = []
    for index, pattern in zip(range(len(patients)), params.patient_patterns(), strict=True):
        history = patient_history(
            seed=params.seed,
            patient_index=index,
            pattern=pattern,
            days=params.checkin_days,
            end_date=params.end_date,
            adherence=params.adherence,
        )
        checkins += len(history)
        days.update(int(code) for code in history.daily_states.tolist())
        if index == 0:
            states = history.checkin_states()
            for (day, payload), state in zip(history.iter_payloads(), states, strict=False):
                if len(sample) == SAMPLE_DAYS:
                    break
                mood = payload["mood_data"]
                sample.append(
                    SampleDay(
                        date=day.isoformat(),
                        state=str(state),
                        hours_slept=payload["sleep_data"]["hoursSlept"],
                        energy=int(mood["energyLevel"]),
                        depressed_mood=int(mood["depressedMood"]),
                        elevation=int(mood["elevation"]),
                    )
                )
    total_days = sum(days.values())
    shares = {
        str(STATE_BY_CODE[code]): round(count / total_days, 4)
        for code, count in sorted(days.items())
        if total_days
    }
    for state in MoodState:
        shares.setdefault(str(state), 0.0)
    return PreviewReport(
        parameters=request.as_parameters(),
        therapists=len(therapists),
        patients=len(patients),
        checkins=checkins,
        state_shares=shares,
        sample_patient=patients[0].full_name if patients else "",
        sample_days=sample,
    )
