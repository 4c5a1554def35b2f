"""Episodes respect DSM-5 minimum lengths; sub-threshold deviations are labelled as such."""

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
from synthadmin.content import patterns as pattern_module
from synthadmin.content.states import STATE_BY_CODE

END = dt.date(2025, 6, 30)
RUN_SEED = 404
CLINICAL = [p for p in PATTERN_NAMES if get_pattern(p).is_clinical]
DSM_MINIMUM = {MoodState.MANIC: 7, MoodState.HYPOMANIC: 4, MoodState.DEPRESSED_SEVERE: 14, MoodState.MIXED: 7}


@cache
def _histories(pattern: str) -> tuple[PatientHistory, ...]:
    return tuple(
        build_history(pattern=pattern, end_date=END, days=730, seed=patient_seed(RUN_SEED, i))
        for i in range(200)
    )


@pytest.mark.parametrize("pattern", CLINICAL)
def test_full_episodes_meet_dsm_minimums(pattern: str) -> None:
    checked = 0
    for history in _histories(pattern):
        for span in history.episode_spans():
            if span.full:
                # The model's true length, also for episodes cut by the window edge.
                assert span.true_days >= DSM_MINIMUM[span.state], span
                if not (span.starts_before_window or span.ends_after_window):
                    assert span.days >= DSM_MINIMUM[span.state], span
                    checked += 1
    assert checked > 50


@pytest.mark.parametrize("pattern", CLINICAL)
def test_only_hypomania_and_mild_depression_can_be_sub_threshold(pattern: str) -> None:
    for history in _histories(pattern):
        for span in history.episode_spans():
            if span.state in DSM_MINIMUM and span.state is not MoodState.HYPOMANIC:
                assert span.full, span
            if span.state is MoodState.DEPRESSED_MILD:
                assert not span.full
            if span.state is MoodState.HYPOMANIC and not span.full:
                assert span.kind == "brief_hypomania"
                assert span.true_days <= 3


def test_stable_has_brief_deviations() -> None:
    # Bauer 2011: 69 % of patients had single hypomanic days. Our stable patients have them
    # at about that rate per year; short mild dips are common too.
    histories = _histories("stable")
    with_single_day = np.mean(
        [any(r.state is MoodState.HYPOMANIC and r.days == 1 for r in h.episodes()[1:-1]) for h in histories]
    )
    assert 0.6 <= with_single_day <= 0.95
    dips = [
        s.days
        for h in histories
        for s in h.episode_spans()
        if s.state is MoodState.DEPRESSED_MILD and not s.starts_before_window and not s.ends_after_window
    ]
    assert np.median(dips) <= 7


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_episodes_tile_the_window(pattern: str) -> None:
    for history in _histories(pattern)[:50]:
        runs = history.episodes()
        assert runs[0].start == history.start_date
        assert runs[-1].end == history.end_date
        for before, after in itertools.pairwise(runs):
            assert after.start == before.end + dt.timedelta(days=1)
            # Equal neighbouring states would be one run: the chain never repeats a state.
            assert after.state is not before.state
        expanded = [STATE_BY_CODE.index(r.state) for r in runs for _ in range(r.days)]
        assert expanded == history.daily_states.tolist()


def test_episode_lengths_follow_solomon() -> None:
    # Medians in days: major depression 14 weeks; mania 1.7x, hypomania 4.5x, minor
    # depression 2.0x faster; mixed 0.44x (slower).
    assert pattern_module.MAJOR_DEPRESSION.median == 98
    assert abs(pattern_module.MANIA.median - 98 / 1.7) <= 1
    assert abs(pattern_module.HYPOMANIA.median - 98 / 4.5) <= 1
    assert abs(pattern_module.MINOR_DEPRESSION.median - 56) <= 1
    assert abs(pattern_module.MIXED_EPISODE.median - 98 / 0.44) <= 10
    # Right-skewed: mean above median. Over 75 % recover within a year.
    for spec in (pattern_module.MAJOR_DEPRESSION, pattern_module.MANIA, pattern_module.HYPOMANIA):
        assert spec.mean > spec.median
    within_year = sum(pattern_module.MAJOR_DEPRESSION.probabilities[: 365 - 14 + 1])
    assert within_year > 0.75


def test_episode_lengths_vary_independently() -> None:
    # No fixed alternation: complete episode lengths take many values, and one episode's
    # length says little about the next one's (independent draws, ICC 0.07).
    lengths, pairs = [], []
    for history in _histories("cycling"):
        spans = [s for s in history.episode_spans() if not s.starts_before_window and not s.ends_after_window]
        lengths += [s.days for s in spans]
        pairs += [(a.days, b.days) for a, b in itertools.pairwise(spans)]
    assert len(set(lengths)) > 60
    first, second = np.log(np.array(pairs, dtype=float)).T
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.3
