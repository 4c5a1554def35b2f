"""build_history, get_pattern and patient_seed reject bad input with clear one-line errors."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from synthadmin.content import (
    InvalidHistoryParameterError,
    UnknownPatternError,
    build_history,
    get_pattern,
    patient_seed,
)

END = dt.date(2025, 6, 30)
EXPECTED_UNKNOWN = (
    "unknown pattern 'foo'; valid patterns: stable, cycling, rapid_cycling, depressive, manic, random"
)


def test_unknown_pattern_lists_valid_names() -> None:
    with pytest.raises(UnknownPatternError) as caught:
        build_history(pattern="foo", end_date=END, days=10, seed=1)
    assert str(caught.value) == EXPECTED_UNKNOWN
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["foo", "Stable", " stable", "", None, 3])
def test_get_pattern_rejects_unknown_names(name: object) -> None:
    with pytest.raises(UnknownPatternError, match="valid patterns: stable, cycling"):
        get_pattern(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("days", [-1, -365, 1.5, "10", True, None])
def test_invalid_days(days: object) -> None:
    with pytest.raises(InvalidHistoryParameterError, match=r"^days: ") as caught:
        build_history(pattern="stable", end_date=END, days=days, seed=1)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("adherence", [0, 0.0, -0.1, 1.0001, 2, math.nan, math.inf, True, "0.8"])
def test_invalid_adherence(adherence: object) -> None:
    with pytest.raises(InvalidHistoryParameterError, match=r"^adherence: ") as caught:
        build_history(pattern="stable", end_date=END, days=10, seed=1, adherence=adherence)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("adherence", [1, 1.0, 0.01, 0.5])
def test_valid_adherence_bounds(adherence: float) -> None:
    history = build_history(pattern="stable", end_date=END, days=30, seed=1, adherence=adherence)
    assert 0 <= len(history) <= 30


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None])
def test_invalid_seed(seed: object) -> None:
    with pytest.raises(InvalidHistoryParameterError, match=r"^seed: "):
        build_history(pattern="stable", end_date=END, days=10, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("end_date", [dt.datetime(2025, 6, 30, 12, 0), "2025-06-30", None])
def test_invalid_end_date(end_date: object) -> None:
    with pytest.raises(InvalidHistoryParameterError, match=r"^end_date: "):
        build_history(pattern="stable", end_date=end_date, days=10, seed=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("run_seed", "index"), [(-1, 0), (0, -1), (1.0, 0), (0, True)])
def test_invalid_patient_seed(run_seed: object, index: object) -> None:
    with pytest.raises(InvalidHistoryParameterError):
        patient_seed(run_seed, index)  # type: ignore[arg-type]


def test_zero_days_is_an_empty_history() -> None:
    history = build_history(pattern="cycling", end_date=END, days=0, seed=1)
    assert len(history) == 0
    assert history.days == 0
    assert history.checkin_dates == ()
    assert list(history.iter_payloads()) == []
    assert list(history.iter_json_rows()) == []
    assert history.episodes() == []
    assert history.start_date == END + dt.timedelta(days=1)
    assert history.end_date == END
