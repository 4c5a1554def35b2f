"""Daily values carry over from day to day, move with the state, and look clinically right."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache

import numpy as np
import pytest

from synthadmin.content import (
    PATTERN_NAMES,
    MoodState,
    PatientHistory,
    build_history,
    get_pattern,
    patient_seed,
)
from synthadmin.content.states import STATE_CODE

END = dt.date(2025, 6, 30)
RUN_SEED = 606
CLINICAL = [p for p in PATTERN_NAMES if get_pattern(p).is_clinical]


@cache
def _histories(pattern: str, adherence: float = 0.85) -> tuple[PatientHistory, ...]:
    return tuple(
        build_history(
            pattern=pattern, end_date=END, days=365, seed=patient_seed(RUN_SEED, i), adherence=adherence
        )
        for i in range(200)
    )


def _within_episode_lag1(pattern: str, key: str) -> float:
    """Lag-1 autocorrelation of a daily value inside episodes (each run demeaned)."""
    before, after = [], []
    for history in _histories(pattern, 1.0)[:100]:
        values = history.field_values(key).astype(float)
        for run in history.episodes():
            lo = (run.start - history.start_date).days
            segment = values[lo : lo + run.days]
            if len(segment) >= 3:
                segment = segment - segment.mean()
                before.append(segment[:-1])
                after.append(segment[1:])
    return float(np.corrcoef(np.concatenate(before), np.concatenate(after))[0, 1])


@pytest.mark.parametrize("pattern", CLINICAL)
@pytest.mark.parametrize("key", ["energyLevel", "depressedMood"])
def test_consecutive_days_resemble_each_other(pattern: str, key: str) -> None:
    # Ortiz 2021: daily mood and energy are positively autocorrelated. Demeaning each run
    # removes the episode's own level, so this is day-to-day carry-over only.
    assert _within_episode_lag1(pattern, key) > 0.3


def _all(pattern: str, key: str, adherence: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    histories = _histories(pattern, adherence)
    values = np.concatenate([h.field_values(key) for h in histories])
    states = np.concatenate([h.checkin_state_codes for h in histories])
    return values, states


@pytest.mark.parametrize("pattern", CLINICAL)
def test_sleep_falls_as_elevation_rises(pattern: str) -> None:
    sleep, _ = _all(pattern, "hoursSlept")
    elevation, _ = _all(pattern, "elevation")
    r = np.corrcoef(sleep, elevation)[0, 1]
    assert r < (-0.3 if pattern == "cycling" else -0.2)


@pytest.mark.parametrize("pattern", CLINICAL)
def test_euthymic_sleep_is_long_enough(pattern: str) -> None:
    # Bauer 2009: euthymic sleep-plus-bed-rest >= 8 h in 89 % of patients (not 6-8 h).
    sleep, states = _all(pattern, "hoursSlept")
    euthymic = sleep[states == STATE_CODE[MoodState.EUTHYMIC]]
    assert np.mean(euthymic >= 7.5) >= 0.75
    assert 7.8 <= np.mean(euthymic) <= 8.8


def test_stable_is_not_the_same_every_day() -> None:
    for history in _histories("stable")[:20]:
        rows = {tuple(r[1:]) for r in history.iter_json_rows()}
        assert len(rows) >= 0.95 * len(history)
        energy = history.field_values("energyLevel")
        assert len(np.unique(energy)) >= 3


def _mean(pattern: str, key: str, state: MoodState) -> float:
    values, states = _all(pattern, key)
    return float(values[states == STATE_CODE[state]].mean())


def test_state_signatures_in_cycling() -> None:
    e, m, ds, mx = (MoodState.EUTHYMIC, MoodState.MANIC, MoodState.DEPRESSED_SEVERE, MoodState.MIXED)

    def mean(key: str, state: MoodState) -> float:
        return _mean("cycling", key, state)

    # Mania: short sleep (3-6 h), high energy, elevation, activation, racing thoughts.
    assert 3.0 <= mean("hoursSlept", m) <= 6.0
    assert mean("perceivedSleepNeed", m) < mean("perceivedSleepNeed", e) - 2
    for key in ("energyLevel", "elevation", "activation", "thoughtSpeed", "distractibility"):
        assert mean(key, m) > mean(key, e) + 2, key
    # ... more impulsive behaviour, lower medication adherence.
    for key in ("sexualRiskBehavior", "substanceUsage", "compulsionEpisode"):
        assert mean(key, m) > 2 * mean(key, e), key
    assert mean("medicationAdherence", m) < mean("medicationAdherence", e) - 0.2
    assert mean("tasksPlanned", m) > mean("tasksPlanned", e)
    # Severe depression: low energy and drive, high mood and rumination, withdrawal.
    for key in ("energyLevel", "motivationToStart", "socialConnection"):
        assert mean(key, ds) < mean(key, e) - 2, key
    for key in ("depressedMood", "ruminationAxis"):
        assert mean(key, ds) > mean(key, e) + 4, key
    assert mean("skipMeals", ds) > 2 * mean("skipMeals", e)
    assert mean("hoursSlept", ds) > mean("hoursSlept", e)
    assert mean("hasNapped", ds) > mean("hasNapped", e)
    # Mixed: depressed AND activated, fast-thinking and anxious.
    assert mean("depressedMood", mx) >= 5
    assert mean("activation", mx) >= 7
    assert mean("thoughtSpeed", mx) >= 6
    assert mean("anxietyStress", mx) >= 6


def test_sleep_shortens_before_mania_starts() -> None:
    # Shorter sleep precedes (hypo)mania (Leibenluft 1996); onsets ramp over a few days.
    day_before: list[float] = []
    elevation_first: list[float] = []
    elevation_middle: list[float] = []
    quiet: list[float] = []
    for history in _histories("manic", 1.0):
        sleep = history.field_values("hoursSlept")
        elevation = history.field_values("elevation")
        spans = history.episode_spans()
        for prev, span in itertools.pairwise(spans):
            onset = (span.start - history.start_date).days
            if (
                prev.state is MoodState.EUTHYMIC
                and span.state is MoodState.MANIC
                and span.true_days >= 10
                and prev.days >= 8
                and not span.ends_after_window
            ):
                day_before.append(sleep[onset - 1])
                elevation_first.append(elevation[onset])
                elevation_middle.append(elevation[onset + span.days // 2])
        for span in spans:
            if span.state is MoodState.EUTHYMIC and span.days >= 20:
                lo = (span.start - history.start_date).days
                quiet.extend(sleep[lo + 7 : lo + span.days - 7])
    assert len(day_before) > 50
    assert np.mean(day_before) < np.mean(quiet) - 0.5
    assert np.mean(elevation_first) < np.mean(elevation_middle) - 1
