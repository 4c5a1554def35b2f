"""Within-day consistency rules and value ranges hold on every generated row."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pytest

from synthadmin.content import FIELDS, PATTERN_NAMES, build_history, patient_seed
from synthadmin.content.payloads import FIELD_INDEX, VALUE_DTYPE

END = dt.date(2025, 6, 30)
RUN_SEED = 202


@cache
def _values(pattern: str) -> np.ndarray:
    return np.concatenate(
        [
            build_history(pattern=pattern, end_date=END, days=365, seed=patient_seed(RUN_SEED, i)).values
            for i in range(200)
        ]
    )


def _col(values: np.ndarray, key: str) -> np.ndarray:
    return values[:, FIELD_INDEX[key]]


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_consistency_rules(pattern: str) -> None:
    v = _values(pattern)
    assert np.all(_col(v, "tasksCompleted") <= _col(v, "tasksPlanned"))
    no_compulsion = _col(v, "compulsionEpisode") == 0
    assert np.all(_col(v, "compulsionIntensity")[no_compulsion] == 0)
    assert np.all(_col(v, "compulsionIntensity")[~no_compulsion] >= 1)
    no_substance = _col(v, "substanceUsage") == 0
    assert np.all(_col(v, "substanceUnits")[no_substance] == 0)
    assert np.all(_col(v, "substanceUnits")[~no_substance] >= 1)
    no_nap = _col(v, "hasNapped") == 0
    assert np.all(_col(v, "nappingDurationMin")[no_nap] == 0)
    assert np.all(_col(v, "nappingDurationMin")[~no_nap] > 0)
    no_exercise = _col(v, "exerciseDurationMin") == 0
    assert np.all(_col(v, "exerciseFeeling")[no_exercise] == 0)
    # Medication cannot be taken on time on a day it was not taken.
    assert np.all(_col(v, "medicationTiming") <= _col(v, "medicationAdherence"))


def test_storage_type_holds_every_value() -> None:
    largest = max(f.high * 10 if f.kind == "tenths" else f.high for f in FIELDS)
    assert largest <= np.iinfo(VALUE_DTYPE).max


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_values_stay_in_range(pattern: str) -> None:
    v = _values(pattern)
    for i, spec in enumerate(FIELDS):
        column = v[:, i] / 10 if spec.kind == "tenths" else v[:, i]
        assert column.min() >= spec.low, spec.key
        assert column.max() <= spec.high, spec.key
        if spec.kind == "flag":
            assert set(np.unique(column)) <= {0, 1}, spec.key
        if spec.kind in ("score", "flag"):
            assert column.max() <= 10
        if spec.kind == "tenths":
            assert column.max() <= 24


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_every_field_varies(pattern: str) -> None:
    # No constant column: a field stuck at one value would be useless for QA and the app.
    v = _values(pattern)
    for i, spec in enumerate(FIELDS):
        assert len(np.unique(v[:, i])) > 1, spec.key
