"""Histories start mid-episode in the stationary mix, not all euthymic on day one."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from synthadmin.content import PATTERN_NAMES, MoodState, build_history, get_pattern, patient_seed
from synthadmin.content.states import STATE_BY_CODE

END = dt.date(2025, 6, 30)
RUN_SEED = 808
PATIENTS = 600
TOLERANCE = 0.07  # binomial SD of a 50 % share over 600 patients is 2 points


@pytest.mark.parametrize("pattern", [p for p in PATTERN_NAMES if get_pattern(p).is_clinical])
def test_first_day_follows_the_stationary_mix(pattern: str) -> None:
    histories = [
        build_history(pattern=pattern, end_date=END, days=7, seed=patient_seed(RUN_SEED, i))
        for i in range(PATIENTS)
    ]
    first = np.bincount([h.daily_states[0] for h in histories], minlength=len(STATE_BY_CODE))
    target = get_pattern(pattern).target_shares
    for code, state in enumerate(STATE_BY_CODE):
        assert abs(first[code] / PATIENTS - target[state]) <= TOLERANCE, state
    # Mid-episode: the episode in progress on day one almost always began before it.
    began_before = np.mean([h.episode_spans()[0].starts_before_window for h in histories])
    assert began_before > 0.9


def test_short_windows_are_not_all_euthymic() -> None:
    histories = [
        build_history(pattern="cycling", end_date=END, days=14, seed=patient_seed(RUN_SEED, i))
        for i in range(200)
    ]
    euthymic_throughout = np.mean(
        [all(s is MoodState.EUTHYMIC for s in h.checkin_states()) for h in histories]
    )
    assert 0.3 < euthymic_throughout < 0.7
