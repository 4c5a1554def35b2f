"""validate_payload rejects what the app's API would reject, naming column.key and problem."""

from __future__ import annotations

import copy
import datetime as dt
from types import MappingProxyType
from typing import Any

import pytest

from synthadmin.content import PayloadValidationError, build_history, validate_payload


@pytest.fixture
def payload() -> dict[str, dict[str, Any]]:
    history = build_history(pattern="cycling", end_date=dt.date(2025, 6, 30), days=5, seed=3, adherence=1.0)
    _, first = next(history.iter_payloads())
    return copy.deepcopy(first)


def _problem(payload: dict[str, dict[str, Any]]) -> str:
    with pytest.raises(PayloadValidationError) as caught:
        validate_payload(payload)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_generated_payload_is_valid(payload: dict[str, dict[str, Any]]) -> None:
    validate_payload(payload)


def test_any_mapping_is_accepted(payload: dict[str, dict[str, Any]]) -> None:
    validate_payload(MappingProxyType({k: MappingProxyType(v) for k, v in payload.items()}))


def test_missing_key(payload: dict[str, dict[str, Any]]) -> None:
    del payload["mood_data"]["elevation"]
    assert _problem(payload) == "mood_data.elevation: Field required"


def test_missing_column(payload: dict[str, dict[str, Any]]) -> None:
    del payload["meds_context_data"]
    assert _problem(payload).startswith("meds_context_data: Field required")


def test_extra_key(payload: dict[str, dict[str, Any]]) -> None:
    payload["sleep_data"]["dreams"] = 3
    assert _problem(payload).startswith("sleep_data.dreams: Extra inputs are not permitted")


def test_extra_column(payload: dict[str, dict[str, Any]]) -> None:
    payload["notes_data"] = {}
    assert _problem(payload).startswith("notes_data: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("column", "key", "value", "expected"),
    [
        ("mood_data", "energyLevel", 11, "mood_data.energyLevel: Input should be less than"),
        ("mood_data", "energyLevel", -1, "mood_data.energyLevel: Input should be greater"),
        ("sleep_data", "hoursSlept", 24.5, "sleep_data.hoursSlept: Input should be less than"),
        ("sleep_data", "hasNapped", 2, "sleep_data.hasNapped: Input should be less than"),
        ("sleep_data", "nappingDurationMin", -5, "sleep_data.nappingDurationMin: Input should"),
        ("sleep_data", "hasNapped", True, "sleep_data.hasNapped: Input should be a valid int"),
        ("mood_data", "elevation", 3.0, "mood_data.elevation: Input should be a valid int"),
        ("mood_data", "elevation", "3", "mood_data.elevation: Input should be a valid int"),
        ("sleep_data", "hoursSlept", float("nan"), "sleep_data.hoursSlept: Input should be a f"),
    ],
)
def test_out_of_range_or_wrong_type(
    payload: dict[str, dict[str, Any]], column: str, key: str, value: object, expected: str
) -> None:
    payload[column][key] = value
    assert _problem(payload).startswith(expected)


def test_integer_hours_are_accepted(payload: dict[str, dict[str, Any]]) -> None:
    payload["sleep_data"]["hoursSlept"] = 8
    payload["sleep_data"]["perceivedSleepNeed"] = 0
    validate_payload(payload)


def test_completed_more_than_planned(payload: dict[str, dict[str, Any]]) -> None:
    payload["risk_routine_data"]["tasksPlanned"] = 2
    payload["risk_routine_data"]["tasksCompleted"] = 3
    assert _problem(payload) == ("risk_routine_data.tasksCompleted: must not exceed tasksPlanned (3 > 2)")


def test_compulsion_intensity_without_episode(payload: dict[str, dict[str, Any]]) -> None:
    payload["appetite_impulse_data"]["compulsionEpisode"] = 0
    payload["appetite_impulse_data"]["compulsionIntensity"] = 4
    assert _problem(payload) == (
        "appetite_impulse_data.compulsionIntensity: must be 0 when compulsionEpisode is 0 (got 4)"
    )


def test_substance_units_without_usage(payload: dict[str, dict[str, Any]]) -> None:
    payload["appetite_impulse_data"]["substanceUsage"] = 0
    payload["appetite_impulse_data"]["substanceUnits"] = 2
    assert _problem(payload).startswith("appetite_impulse_data.substanceUnits: must be 0")


def test_every_problem_is_listed(payload: dict[str, dict[str, Any]]) -> None:
    payload["mood_data"]["energyLevel"] = 99
    del payload["symptoms_data"]["thoughtSpeed"]
    with pytest.raises(PayloadValidationError) as caught:
        validate_payload(payload)
    assert len(caught.value.problems) == 2
    assert any(p.startswith("mood_data.energyLevel: ") for p in caught.value.problems)
    assert "symptoms_data.thoughtSpeed: Field required" in caught.value.problems


def test_not_a_mapping() -> None:
    with pytest.raises(PayloadValidationError, match="expected a mapping"):
        validate_payload([1, 2])  # type: ignore[arg-type]
