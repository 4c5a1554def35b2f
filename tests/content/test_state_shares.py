"""Each pattern spends the published (or stated) share of days in each mood state.

Tolerance: simulated shares over 200 patients x 365 days must lie within 5 percentage points
of the pattern's target for every state (1 point for the independent-days random pattern).
Across 12 independent runs the largest standard deviation of a share was 1.9 points, so 5
points is about 2.6 standard deviations: loose enough to be stable, tight enough to catch a
mis-specified chain (a wrong share is typically off by 10+ points).
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache

import numpy as np
import pytest

from synthadmin.content import PATTERN_NAMES, MoodState, build_history, get_pattern, patient_seed
from synthadmin.content.states import STATE_BY_CODE

END = dt.date(2025, 6, 30)
RUN_SEED = 303
PATIENTS = 200
DAYS = 365
TOLERANCE = 0.05
RANDOM_TOLERANCE = 0.01
CLINICAL = [p for p in PATTERN_NAMES if get_pattern(p).is_clinical]
HUB_PATTERNS = ["stable", "cycling", "depressive", "manic"]

E, DM, DS = MoodState.EUTHYMIC, MoodState.DEPRESSED_MILD, MoodState.DEPRESSED_SEVERE
HY, MA, MX = MoodState.HYPOMANIC, MoodState.MANIC, MoodState.MIXED


@cache
def _daily_states(pattern: str) -> tuple[np.ndarray, ...]:
    return tuple(
        build_history(pattern=pattern, end_date=END, days=DAYS, seed=patient_seed(RUN_SEED, i)).daily_states
        for i in range(PATIENTS)
    )


def _shares(pattern: str) -> dict[MoodState, float]:
    counts = np.bincount(np.concatenate(_daily_states(pattern)), minlength=len(STATE_BY_CODE))
    return {s: counts[i] / counts.sum() for i, s in enumerate(STATE_BY_CODE)}


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_simulated_shares_match_targets(pattern: str) -> None:
    target = get_pattern(pattern).target_shares
    tolerance = TOLERANCE if get_pattern(pattern).is_clinical else RANDOM_TOLERANCE
    measured = _shares(pattern)
    for state in MoodState:
        assert abs(measured[state] - target[state]) <= tolerance, (
            f"{pattern} {state}: measured {measured[state]:.3f}, target {target[state]:.3f}"
        )


@pytest.mark.parametrize("pattern", HUB_PATTERNS)
def test_chain_is_solved_exactly_for_published_shares(pattern: str) -> None:
    model = get_pattern(pattern)
    for state in MoodState:
        assert math.isclose(model.model_shares[state], model.target_shares[state], abs_tol=1e-9)


def test_rapid_cycling_targets_are_those_of_its_chain() -> None:
    model = get_pattern("rapid_cycling")
    for state in MoodState:
        assert abs(model.model_shares[state] - model.target_shares[state]) < 0.001


def test_targets_trace_to_the_literature() -> None:
    stable = get_pattern("stable").target_shares  # Bauer 2023 ChronoRecord
    assert (stable[DM], stable[DS], stable[HY], stable[MA]) == (0.151, 0.066, 0.066, 0.008)
    assert math.isclose(stable[E], 0.709)  # 70.8 % + the 0.1 % the published figures miss

    cycling = get_pattern("cycling").target_shares  # Judd 2002, bipolar I
    assert math.isclose(cycling[DM] + cycling[DS], 0.319)
    assert math.isclose(cycling[HY] + cycling[MA], 0.089)
    assert math.isclose(cycling[MX], 0.059)
    # Sub-threshold weeks about 3x as common as full-syndrome weeks.
    assert 2.5 <= cycling[DM] / cycling[DS] <= 3.5
    assert 2.5 <= cycling[HY] / cycling[MA] <= 3.5

    depressive = get_pattern("depressive").target_shares  # Judd 2003, bipolar II
    assert math.isclose(1 - depressive[E], 0.539, abs_tol=1e-9)
    assert math.isclose(depressive[DM] + depressive[DS], 0.503)
    assert math.isclose(depressive[HY], 0.013)
    assert math.isclose(depressive[MX], 0.023)
    assert depressive[MA] == 0.0


def test_manic_pattern_is_manic_dominant() -> None:
    target = get_pattern("manic").target_shares
    assert target[MA] + target[HY] >= 0.5
    measured = _shares("manic")
    assert measured[MA] + measured[HY] >= 0.5


@pytest.mark.parametrize(
    ("pattern", "group", "states"),
    [
        ("cycling", "symptomatic", (DM, DS, HY, MA, MX)),
        ("cycling", "depressive", (DM, DS)),
        ("cycling", "manic/hypomanic", (HY, MA)),
        ("depressive", "symptomatic", (DM, DS, HY, MA, MX)),
        ("depressive", "depressive", (DM, DS)),
        ("stable", "depressive", (DM, DS)),
    ],
)
def test_group_shares(pattern: str, group: str, states: tuple[MoodState, ...]) -> None:
    target = sum(get_pattern(pattern).target_shares[s] for s in states)
    measured = sum(_shares(pattern)[s] for s in states)
    assert abs(measured - target) <= TOLERANCE, f"{pattern} {group}: {measured:.3f} vs {target}"


def test_cycling_changes_status_about_six_times_a_year() -> None:
    # Judd 2002: symptom status changes about 6 times a year.
    changes = [np.count_nonzero(np.diff(s)) for s in _daily_states("cycling")]
    per_year = float(np.mean(changes)) * 365 / (DAYS - 1)
    assert 4.0 <= per_year <= 8.0
    assert 4.0 <= get_pattern("cycling").status_changes_per_year <= 8.0


@pytest.mark.parametrize("pattern", CLINICAL)
def test_patients_differ(pattern: str) -> None:
    # Per-patient shares vary (episodes are random), unlike the replaced fixed patterns.
    euthymic = [np.mean(s == 0) for s in _daily_states(pattern)]
    assert np.std(euthymic) > 0.05
