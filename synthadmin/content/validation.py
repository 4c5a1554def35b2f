"""Pydantic models of the app's JSONB payload contract, strict enough to catch our mistakes.

The app's API validates every check-in with one model per JSONB column; these models follow
``docs/target-schema.md`` exactly (every key required, no extra keys,
inclusive ranges) and are stricter in two ways: integers must be real ints (no bools, no
floats such as 3.0) and the contract's consistency rules are enforced (tasksCompleted <=
tasksPlanned, compulsionIntensity 0 without an episode, substanceUnits 0 without usage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from synthadmin.content.errors import PayloadValidationError

__all__ = [
    "AppetiteImpulseData",
    "CheckInPayload",
    "MedsContextData",
    "MoodData",
    "RiskRoutineData",
    "SleepData",
    "SymptomsData",
    "validate_payload",
]

Hours = Annotated[float, Field(ge=0, le=24, allow_inf_nan=False)]  # ints accepted too
Score = Annotated[int, Field(ge=0, le=10)]
Flag = Annotated[int, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]


class _Column(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _inconsistent(key: str, message: str, **values: int) -> PydanticCustomError:
    # The key travels in the context so validate_payload can report "column.key: ...".
    return PydanticCustomError("payload_consistency", message, {"key": key, **values})


class SleepData(_Column):
    """sleep_data."""

    hoursSlept: Hours
    sleepQuality: Score
    perceivedSleepNeed: Hours
    sleepHygiene: Score
    hasNapped: Flag
    nappingDurationMin: Count


class MoodData(_Column):
    """mood_data."""

    energyLevel: Score
    depressedMood: Score
    anxietyStress: Score
    elevation: Score
    activation: Score
    motivationToStart: Score


class SymptomsData(_Column):
    """symptoms_data."""

    thoughtSpeed: Score
    distractibility: Score
    memoryConcentration: Score
    ruminationAxis: Score


class RiskRoutineData(_Column):
    """risk_routine_data; tasksCompleted never exceeds tasksPlanned."""

    socialConnection: Score
    socialRhythmEvent: Flag
    exerciseDurationMin: Count
    exerciseFeeling: Score
    sexualRiskBehavior: Flag
    tasksPlanned: Count
    tasksCompleted: Count

    @model_validator(mode="after")
    def _completed_within_planned(self) -> RiskRoutineData:
        if self.tasksCompleted > self.tasksPlanned:
            raise _inconsistent(
                "tasksCompleted",
                "must not exceed tasksPlanned ({completed} > {planned})",
                completed=self.tasksCompleted,
                planned=self.tasksPlanned,
            )
        return self


class AppetiteImpulseData(_Column):
    """appetite_impulse_data; intensity and units are 0 without an episode / usage."""

    generalAppetite: Score
    dietTracking: Flag
    skipMeals: Flag
    compulsionEpisode: Flag
    compulsionIntensity: Score
    substanceUsage: Flag
    substanceUnits: Count
    caffeineDoses: Count
    libido: Score

    @model_validator(mode="after")
    def _zero_without_event(self) -> AppetiteImpulseData:
        if self.compulsionEpisode == 0 and self.compulsionIntensity != 0:
            raise _inconsistent(
                "compulsionIntensity",
                "must be 0 when compulsionEpisode is 0 (got {value})",
                value=self.compulsionIntensity,
            )
        if self.substanceUsage == 0 and self.substanceUnits != 0:
            raise _inconsistent(
                "substanceUnits",
                "must be 0 when substanceUsage is 0 (got {value})",
                value=self.substanceUnits,
            )
        return self


class MedsContextData(_Column):
    """meds_context_data."""

    medicationAdherence: Flag
    medicationTiming: Flag
    medicationChangeRecent: Flag
    contextualStressors: Flag


class CheckInPayload(_Column):
    """The six JSONB columns of one check-in."""

    sleep_data: SleepData
    mood_data: MoodData
    symptoms_data: SymptomsData
    risk_routine_data: RiskRoutineData
    appetite_impulse_data: AppetiteImpulseData
    meds_context_data: MedsContextData


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    if error["type"] == "payload_consistency":
        loc.append(str(ctx["key"]))
    where = ".".join(loc) or "payload"
    return f"{where}: {error['msg']}"


def validate_payload(payload: Mapping[str, Mapping[str, Any]]) -> None:
    """Check one check-in payload against the app's contract.

    Raises :class:`PayloadValidationError` listing every problem as ``column.key: problem``
    (a missing column is reported as ``column: Field required``).
    """
    if not isinstance(payload, Mapping):
        raise PayloadValidationError([f"payload: expected a mapping, got {type(payload).__name__}"])
    try:
        if type(payload) is not dict or any(type(v) is not dict for v in payload.values()):
            # Plain dicts, so that any Mapping (e.g. MappingProxyType) passes strict mode.
            payload = {k: dict(v) if isinstance(v, Mapping) else v for k, v in payload.items()}
        CheckInPayload.model_validate(payload)
    except ValidationError as exc:
        raise PayloadValidationError([_describe(e) for e in exc.errors()]) from exc
