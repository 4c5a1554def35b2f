"""What a patient's admin page shows: the chart of the whole history, latest check-ins, numbers.

Reads only. One query for the charted values of every check-in (four JSON keys each, never the
whole payloads), one for the latest check-ins, and the ground truth
(``services.patient_truth``) for synthetic patients.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db.models.fields.json import KT

from checkins.models import CheckIn
from synthadmin.mood_chart import Chart, DayValues, mood_chart_render
from synthadmin.services.patient_truth import PatientTruth, patient_truth_get

#: Rows of the "latest check-ins" table.
LATEST = 14

_CHARTED = {
    "energy": "mood_data__energyLevel",
    "depressed": "mood_data__depressedMood",
    "elevation": "mood_data__elevation",
    "sleep": "sleep_data__hoursSlept",
}
_LATEST = {
    **_CHARTED,
    "anxiety": "mood_data__anxietyStress",
    "medication": "meds_context_data__medicationAdherence",
}


@dataclass(frozen=True)
class LatestCheckin:
    id: uuid.UUID
    day: dt.date
    state: str | None
    values: dict[str, float | None]


@dataclass(frozen=True)
class PatientStory:
    profile_id: uuid.UUID
    checkins: int
    first_day: dt.date | None
    last_day: dt.date | None
    #: Share of the days of the window with a check-in (the ground-truth window when known,
    #: else first to last check-in); None without check-ins.
    adherence: float | None
    window_days: int
    truth: PatientTruth | None
    chart: Chart | None
    latest: list[LatestCheckin] = field(default_factory=list)


def patient_story_get(*, profile_id: uuid.UUID, latest: int = LATEST) -> PatientStory:
    """Everything the patient page draws for ``profile_id`` (a real profile: no truth, no bands)."""
    rows = (
        CheckIn.objects.filter(user_id=profile_id)
        .order_by("checkin_date")
        .annotate(**{f"_{name}": KT(path) for name, path in _CHARTED.items()})
        .values_list("checkin_date", *(f"_{name}" for name in _CHARTED))
    )
    days = [DayValues(day, *(_number(v) for v in values)) for day, *values in rows]
    truth = patient_truth_get(user_id=profile_id)
    bands = truth.states if truth is not None else []
    chart = mood_chart_render(checkins=days, bands=bands)
    first = days[0].day if days else None
    last = days[-1].day if days else None
    window_start = min(d for d in (first, truth.start if truth else None) if d) if days else None
    window_end = max(d for d in (last, truth.end if truth else None) if d) if days else None
    window_days = (window_end - window_start).days + 1 if window_start and window_end else 0
    states = truth.state_by_day() if truth is not None else {}
    recent = (
        CheckIn.objects.filter(user_id=profile_id)
        .order_by("-checkin_date")
        .annotate(**{f"_{name}": KT(path) for name, path in _LATEST.items()})
        .values_list("id", "checkin_date", *(f"_{name}" for name in _LATEST))[:latest]
    )
    return PatientStory(
        profile_id=profile_id,
        checkins=len(days),
        first_day=first,
        last_day=last,
        adherence=len(days) / window_days if window_days else None,
        window_days=window_days,
        truth=truth,
        chart=chart,
        latest=[
            LatestCheckin(
                id=pk,
                day=day,
                state=states.get(day),
                values={name: _number(v) for name, v in zip(_LATEST, values, strict=True)},
            )
            for pk, day, *values in recent
        ],
    )


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
