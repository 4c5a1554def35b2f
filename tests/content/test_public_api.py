"""The public API other layers call: names, constants and pattern metadata."""

from __future__ import annotations

import dataclasses
import math

import pytest

import synthadmin.content as content
from synthadmin.content import (
    DEFAULT_ADHERENCE,
    FIELDS,
    PATTERN_NAMES,
    PAYLOAD_COLUMNS,
    MoodState,
    PayloadValidationError,
    UnknownPatternError,
    get_pattern,
)

# The app's JSONB contract (docs/target-schema.md), column by column, in contract order.
CONTRACT_KEYS = {
    "sleep_data": [
        "hoursSlept",
        "sleepQuality",
        "perceivedSleepNeed",
        "sleepHygiene",
        "hasNapped",
        "nappingDurationMin",
    ],
    "mood_data": [
        "energyLevel",
        "depressedMood",
        "anxietyStress",
        "elevation",
        "activation",
        "motivationToStart",
    ],
    "symptoms_data": ["thoughtSpeed", "distractibility", "memoryConcentration", "ruminationAxis"],
    "risk_routine_data": [
        "socialConnection",
        "socialRhythmEvent",
        "exerciseDurationMin",
        "exerciseFeeling",
        "sexualRiskBehavior",
        "tasksPlanned",
        "tasksCompleted",
    ],
    "appetite_impulse_data": [
        "generalAppetite",
        "dietTracking",
        "skipMeals",
        "compulsionEpisode",
        "compulsionIntensity",
        "substanceUsage",
        "substanceUnits",
        "caffeineDoses",
        "libido",
    ],
    "meds_context_data": [
        "medicationAdherence",
        "medicationTiming",
        "medicationChangeRecent",
        "contextualStressors",
    ],
}


def test_required_names_are_exported() -> None:
    for name in (
        "MoodState",
        "PATTERN_NAMES",
        "UnknownPatternError",
        "get_pattern",
        "PatientHistory",
        "build_history",
        "patient_seed",
        "validate_payload",
        "PayloadValidationError",
        "PAYLOAD_COLUMNS",
        "DEFAULT_ADHERENCE",
    ):
        assert hasattr(content, name), name
        assert name in content.__all__


def test_mood_state_values() -> None:
    assert [s.value for s in MoodState] == [
        "euthymic",
        "depressed_mild",
        "depressed_severe",
        "hypomanic",
        "manic",
        "mixed",
    ]
    assert MoodState.MANIC == "manic"


def test_constants() -> None:
    assert PATTERN_NAMES == ("stable", "cycling", "rapid_cycling", "depressive", "manic", "random")
    assert PAYLOAD_COLUMNS == tuple(CONTRACT_KEYS)
    assert DEFAULT_ADHERENCE == 0.85


def test_error_types_are_value_errors() -> None:
    assert issubclass(UnknownPatternError, ValueError)
    assert issubclass(PayloadValidationError, ValueError)


def test_fields_follow_the_contract() -> None:
    for column, keys in CONTRACT_KEYS.items():
        assert [f.key for f in FIELDS if f.column == column] == keys
    floats = {f.key for f in FIELDS if f.kind == "tenths"}
    assert floats == {"hoursSlept", "perceivedSleepNeed"}


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_pattern_metadata(name: str) -> None:
    pattern = get_pattern(name)
    assert pattern.name == name
    assert pattern.description
    assert pattern.is_clinical is (name != "random")
    assert set(pattern.target_shares) == set(MoodState)
    assert math.isclose(sum(pattern.target_shares.values()), 1.0, abs_tol=1e-9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pattern.name = "other"  # type: ignore[misc]


def test_random_says_it_is_not_clinical() -> None:
    pattern = get_pattern("random")
    assert not pattern.is_clinical
    assert "not a clinical pattern" in pattern.description.lower()
    assert "compatibility" in pattern.description.lower()


def test_the_registry_names_the_patterns_the_engine_defines():
    """``registry.PATTERN_NAMES`` is what readers without the engine see; the engine's table is
    what a run draws from: the same names, in the same order."""
    from synthadmin.content.patterns import PATTERNS

    assert tuple(PATTERNS) == PATTERN_NAMES
