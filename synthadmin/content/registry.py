"""What the engine offers, readable without loading it: the payload columns and their fields,
the pattern names and the default adherence.

Plain constants, no numpy: the models, the system checks, the forms and the commands' options
read them at start-up, and a process that builds no history (``migrate``, ``purge``, ``export``,
a web process until it first builds a history) never loads the engine for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_ADHERENCE", "FIELDS", "PATTERN_NAMES", "PAYLOAD_COLUMNS", "FieldKind", "FieldSpec"]

#: The patterns, in the order ``patterns.PATTERNS`` defines them (which checks it at import).
PATTERN_NAMES: tuple[str, ...] = ("stable", "cycling", "rapid_cycling", "depressive", "manic", "random")

#: The share of days with a check-in when none is asked for (``adherence``).
DEFAULT_ADHERENCE: float = 0.85

FieldKind = Literal["tenths", "score", "flag", "count"]

PAYLOAD_COLUMNS: tuple[str, ...] = (
    "sleep_data",
    "mood_data",
    "symptoms_data",
    "risk_routine_data",
    "appetite_impulse_data",
    "meds_context_data",
)


@dataclass(frozen=True)
class FieldSpec:
    """One key of one JSONB column.

    ``kind``: "tenths" is a float with one decimal (stored as integer tenths), "score" an
    integer 0-10, "flag" an integer 0/1, "count" a non-negative integer. ``low``/``high``
    bound what this generator emits (always inside the contract's range, which
    :mod:`synthadmin.content.validation` enforces); counts and sleep hours have no or a
    wider contractual maximum.
    """

    column: str
    key: str
    kind: FieldKind
    low: float
    high: float


def _f(column: str, key: str, kind: FieldKind, high: float | None = None) -> FieldSpec:
    default_high = {"score": 10, "flag": 1}.get(kind)
    top = high if high is not None else default_high
    if top is None:
        raise ValueError(f"{key}: needs the generator's maximum")
    return FieldSpec(column, key, kind, 0, top)


# Contract order; the JSON key order follows it.
FIELDS: tuple[FieldSpec, ...] = (
    _f("sleep_data", "hoursSlept", "tenths", 14.0),
    _f("sleep_data", "sleepQuality", "score"),
    _f("sleep_data", "perceivedSleepNeed", "tenths", 14.0),
    _f("sleep_data", "sleepHygiene", "score"),
    _f("sleep_data", "hasNapped", "flag"),
    _f("sleep_data", "nappingDurationMin", "count", 180),
    _f("mood_data", "energyLevel", "score"),
    _f("mood_data", "depressedMood", "score"),
    _f("mood_data", "anxietyStress", "score"),
    _f("mood_data", "elevation", "score"),
    _f("mood_data", "activation", "score"),
    _f("mood_data", "motivationToStart", "score"),
    _f("symptoms_data", "thoughtSpeed", "score"),
    _f("symptoms_data", "distractibility", "score"),
    _f("symptoms_data", "memoryConcentration", "score"),
    _f("symptoms_data", "ruminationAxis", "score"),
    _f("risk_routine_data", "socialConnection", "score"),
    _f("risk_routine_data", "socialRhythmEvent", "flag"),
    _f("risk_routine_data", "exerciseDurationMin", "count", 180),
    _f("risk_routine_data", "exerciseFeeling", "score"),
    _f("risk_routine_data", "sexualRiskBehavior", "flag"),
    _f("risk_routine_data", "tasksPlanned", "count", 25),
    _f("risk_routine_data", "tasksCompleted", "count", 25),
    _f("appetite_impulse_data", "generalAppetite", "score"),
    _f("appetite_impulse_data", "dietTracking", "flag"),
    _f("appetite_impulse_data", "skipMeals", "flag"),
    _f("appetite_impulse_data", "compulsionEpisode", "flag"),
    _f("appetite_impulse_data", "compulsionIntensity", "score"),
    _f("appetite_impulse_data", "substanceUsage", "flag"),
    _f("appetite_impulse_data", "substanceUnits", "count", 15),
    _f("appetite_impulse_data", "caffeineDoses", "count", 12),
    _f("appetite_impulse_data", "libido", "score"),
    _f("meds_context_data", "medicationAdherence", "flag"),
    _f("meds_context_data", "medicationTiming", "flag"),
    _f("meds_context_data", "medicationChangeRecent", "flag"),
    _f("meds_context_data", "contextualStressors", "flag"),
)
