"""Which days get a check-in: the requested share, skips in runs, fewer when depressed.

Tolerance: the share of days with a check-in, over 200 patients x 365 days, is within 0.03
of the requested adherence for every pattern.
"""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache

import numpy as np
import pytest

from synthadmin.content import (
    DEFAULT_ADHERENCE,
    PATTERN_NAMES,
    PatientHistory,
    build_history,
    patient_seed,
)
from synthadmin.content.states import DEPRESSIVE_STATES, STATE_CODE, MoodState

END = dt.date(2025, 6, 30)
RUN_SEED = 707
TOLERANCE = 0.03


@cache
def _histories(pattern: str, adherence: float) -> tuple[PatientHistory, ...]:
    return tuple(
        build_history(
            pattern=pattern, end_date=END, days=365, seed=patient_seed(RUN_SEED, i), adherence=adherence
        )
        for i in range(200)
    )


def _checked_in(history: PatientHistory) -> np.ndarray:
    mask = np.zeros(history.days, dtype=bool)
    mask[history.checkin_offsets] = True
    return mask


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
@pytest.mark.parametrize("adherence", [DEFAULT_ADHERENCE, 0.6])
def test_realised_share_matches_request(pattern: str, adherence: float) -> None:
    histories = _histories(pattern, adherence)
    share = sum(len(h) for h in histories) / sum(h.days for h in histories)
    assert abs(share - adherence) <= TOLERANCE
    # Patients differ: nobody is forced to exactly the target.
    assert np.std([len(h) / h.days for h in histories]) > 0.01


@pytest.mark.parametrize("adherence", [0.3, 0.1])
def test_low_adherence_is_reachable(adherence: float) -> None:
    histories = _histories("cycling", adherence)
    share = sum(len(h) for h in histories) / sum(h.days for h in histories)
    assert abs(share - adherence) <= TOLERANCE


def test_full_adherence_checks_in_every_day() -> None:
    history = build_history(pattern="depressive", end_date=END, days=365, seed=3, adherence=1.0)
    assert len(history) == 365
    assert history.checkin_dates[0] == history.start_date
    assert history.checkin_dates[-1] == END


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_missing_days_come_in_runs(pattern: str) -> None:
    runs: list[int] = []
    for history in _histories(pattern, DEFAULT_ADHERENCE):
        edges = np.diff(np.concatenate([[1], _checked_in(history).astype(int), [1]]))
        runs.extend(np.flatnonzero(edges == 1) - np.flatnonzero(edges == -1))
    assert np.mean(runs) > 1.5
    assert max(runs) >= 7


@pytest.mark.parametrize("pattern", ["stable", "cycling", "depressive"])
def test_depression_lowers_adherence(pattern: str) -> None:
    depressed, euthymic = [], []
    depressive_codes = [STATE_CODE[s] for s in DEPRESSIVE_STATES]
    for history in _histories(pattern, DEFAULT_ADHERENCE):
        mask = _checked_in(history)
        depressed.append(mask[np.isin(history.daily_states, depressive_codes)])
        euthymic.append(mask[history.daily_states == STATE_CODE[MoodState.EUTHYMIC]])
    assert np.concatenate(depressed).mean() < np.concatenate(euthymic).mean() - 0.03


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_dates_are_unique_increasing_and_inside_the_window(pattern: str) -> None:
    for history in _histories(pattern, DEFAULT_ADHERENCE)[:50]:
        dates = history.checkin_dates
        assert all(isinstance(d, dt.date) and not isinstance(d, dt.datetime) for d in dates)
        assert all(a < b for a, b in itertools.pairwise(dates))
        assert dates[0] >= history.start_date
        assert dates[-1] <= history.end_date == END
        assert history.start_date == END - dt.timedelta(days=364)
        assert [history.start_date + dt.timedelta(days=int(o)) for o in history.checkin_offsets] == list(
            dates
        )


def test_adherence_does_not_change_the_mood_course() -> None:
    a = build_history(pattern="cycling", end_date=END, days=365, seed=11, adherence=0.9)
    b = build_history(pattern="cycling", end_date=END, days=365, seed=11, adherence=0.5)
    assert np.array_equal(a.daily_states, b.daily_states)
    assert len(a) > len(b)
