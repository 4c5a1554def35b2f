"""rapid_cycling has at least 4 mood episodes in every 365-day window, by construction."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cache

import numpy as np

from synthadmin.content import MoodState, PatientHistory, build_history, get_pattern, patient_seed

END = dt.date(2025, 6, 30)
RUN_SEED = 505
POLE = {
    MoodState.DEPRESSED_SEVERE: "depressive",
    MoodState.DEPRESSED_MILD: "depressive",
    MoodState.HYPOMANIC: "elevated",
    MoodState.MANIC: "elevated",
    MoodState.MIXED: "mixed",
}


@cache
def _histories() -> tuple[PatientHistory, ...]:
    return tuple(
        build_history(pattern="rapid_cycling", end_date=END, days=730, seed=patient_seed(RUN_SEED, i))
        for i in range(200)
    )


def _onsets(history: PatientHistory) -> np.ndarray:
    """Per day: 1 if a mood episode starts that day (inside the window)."""
    marks = np.zeros(history.days, dtype=int)
    for run in history.episodes()[1:]:
        if run.state is not MoodState.EUTHYMIC:
            marks[(run.start - history.start_date).days] = 1
    return marks


def _min_onsets(history: PatientHistory, window: int) -> int:
    cumulative = np.concatenate([[0], np.cumsum(_onsets(history))])
    return int((cumulative[window:] - cumulative[:-window]).min())


def test_at_least_four_episodes_in_every_365_day_window() -> None:
    # Every sliding window of 365 days in 200 two-year histories (366 windows each).
    worst = min(_min_onsets(h, 365) for h in _histories())
    assert worst >= 4


def test_shorter_windows_have_a_proportional_rate() -> None:
    gap = get_pattern("rapid_cycling").max_onset_gap_days
    assert gap is not None and gap * 4 <= 365
    for history in _histories()[:50]:
        assert _min_onsets(history, gap) >= 1
        assert _min_onsets(history, 2 * gap) >= 2


def test_episodes_are_separated_by_remission_or_polarity_switch() -> None:
    # Consecutive mood episodes never share a pole, with or without remission between
    # them, so none of them could count as the continuation of the previous one.
    for history in _histories():
        poles = [POLE[r.state] for r in history.episodes() if r.state is not MoodState.EUTHYMIC]
        for before, after in itertools.pairwise(poles):
            assert before != after


def test_all_rapid_cycling_episodes_are_full() -> None:
    for history in _histories()[:50]:
        for span in history.episode_spans():
            assert span.full == (span.state is not MoodState.EUTHYMIC)
