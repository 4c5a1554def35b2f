"""A history continued from where a stored one ended: no jump at the join, DSM-5 minimums across it."""

from __future__ import annotations

import datetime as dt

import pytest

from synthadmin.content import (
    PATTERN_NAMES,
    EpisodeInProgress,
    InvalidHistoryParameterError,
    MoodState,
    build_history,
    continuation_seed,
    continue_history,
    get_pattern,
    patient_seed,
    patient_traits,
)
from synthadmin.content.patterns import DSM_MINIMUM_DAYS

END = dt.date(2025, 6, 30)
CLINICAL = [p for p in PATTERN_NAMES if get_pattern(p).is_clinical]


def _where(history) -> EpisodeInProgress:
    last = history.episode_spans()[-1]
    return EpisodeInProgress(
        state=last.state, days_in_state=last.days, kind=last.kind, true_days=last.true_days
    )


def _continued(pattern: str, index: int, *, days: int = 200, more: int = 120):
    seed = patient_seed(31, index)
    first = build_history(pattern=pattern, end_date=END, days=days, seed=seed)
    start = END + dt.timedelta(days=1)
    second = continue_history(
        pattern=pattern,
        end_date=END + dt.timedelta(days=more),
        days=more,
        seed=continuation_seed(seed, start),
        continue_from=_where(first),
        traits=patient_traits(pattern=pattern, days=days, seed=seed),
    )
    return first, second


@pytest.mark.parametrize("pattern", CLINICAL)
def test_the_first_new_day_carries_on_or_follows_by_a_transition(pattern: str) -> None:
    model = get_pattern(pattern)
    keys = [t.key for t in model.episode_types]
    for index in range(40):
        first, second = _continued(pattern, index)
        before, after = first.episode_spans()[-1], second.episode_spans()[0]
        if before.true_days > before.days:  # the stored episode had days left: it goes on
            assert after.kind == before.kind and after.state is before.state
            assert after.start == second.start_date and after.true_days == before.true_days
            assert after.days + before.days == before.true_days or after.ends_after_window
        else:  # it ended with the stored day: the next one is a permitted transition from it
            row = model.transitions[keys.index(before.kind)]
            assert row[keys.index(after.kind)] > 0, (before.kind, after.kind)


@pytest.mark.parametrize("pattern", CLINICAL)
def test_full_episodes_keep_their_dsm_minimum_across_the_join(pattern: str) -> None:
    for index in range(40):
        first, second = _continued(pattern, index, days=60, more=90)
        spans = first.episode_spans() + second.episode_spans()
        merged: list[list] = []
        for span in spans:
            if merged and merged[-1][0] == span.kind and merged[-1][2] + dt.timedelta(days=1) == span.start:
                merged[-1][2] = span.end  # the episode that crossed the join
            else:
                merged.append([span.kind, span.start, span.end, span.full, span.state])
        for kind, start, end, full, state in merged[1:-1]:  # the first and last are cut by the windows
            if full:
                assert (end - start).days + 1 >= DSM_MINIMUM_DAYS[state], (kind, start, end)


def test_same_patient_and_start_day_give_the_same_days() -> None:
    a, b = _continued("cycling", 3)[1], _continued("cycling", 3)[1]
    assert list(a.iter_json_rows()) == list(b.iter_json_rows())
    seed = patient_seed(31, 3)
    assert (
        continuation_seed(seed, END).spawn_key
        != continuation_seed(seed, END + dt.timedelta(days=1)).spawn_key
    )


def test_traits_are_the_ones_the_first_history_drew() -> None:
    from synthadmin.content.history import _generator
    from synthadmin.content.latent import daily_latents
    from synthadmin.content.trajectory import sample_trajectory

    seed = patient_seed(8, 0)
    rng = _generator(seed)  # build_history's own order of draws: trajectory, then latents
    drawn = daily_latents(sample_trajectory(get_pattern("stable"), 90, rng), rng, independent=False).traits
    assert patient_traits(pattern="stable", days=90, seed=seed) == drawn


def test_an_unknown_kind_takes_a_type_with_the_state_and_lasts_at_least_as_long() -> None:
    where = EpisodeInProgress(state=MoodState.MANIC, days_in_state=3)
    history = continue_history(pattern="manic", end_date=END, days=30, seed=5, continue_from=where)
    first = history.episode_spans()[0]
    assert first.state is MoodState.MANIC and first.true_days >= DSM_MINIMUM_DAYS[MoodState.MANIC]


def test_a_state_the_pattern_never_has_is_refused() -> None:
    where = EpisodeInProgress(state=MoodState.MIXED, days_in_state=3)
    with pytest.raises(InvalidHistoryParameterError, match="no mixed episodes"):
        continue_history(pattern="stable", end_date=END, days=10, seed=5, continue_from=where)
