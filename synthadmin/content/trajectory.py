"""Sampling a patient's episode sequence (the semi-Markov trajectory) for a date window.

The first episode is drawn from the stationary mix and the window starts at a uniformly random
day inside it (a length-biased draw), so short windows are as likely to open in an episode as
any other day. Each boundary between episodes gets a few days of onset or recovery ramp,
which :mod:`synthadmin.content.latent` turns into gradual change of the daily profile.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from synthadmin.content.durations import UNIT
from synthadmin.content.errors import InvalidHistoryParameterError
from synthadmin.content.patterns import Pattern
from synthadmin.content.states import MoodState

__all__ = ["MAX_RAMP_DAYS", "EpisodeInProgress", "Trajectory", "sample_trajectory"]

# Onset (prodrome) and recovery ramps last 1-3 days on each side of a boundary, so a change
# of state takes 3-7 days of gradual drift ("a few days of gradual change").
MAX_RAMP_DAYS = 3
# Per-episode severity varies +/-15 % around the type's intensity: no two episodes identical.
SEVERITY_SPREAD = 0.30


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Episodes covering a window of ``days`` days (day 0 = start of the window).

    ``starts[i]`` may be negative (the first episode began before the window) and
    ``starts[i] + lengths[i]`` may exceed ``days`` (the last one continues after it).
    ``type_index`` is -1 for every run of the non-clinical random pattern.
    """

    days: int
    daily_codes: np.ndarray  # uint8, one mood-state code per day
    type_index: np.ndarray  # int16 per episode, index into pattern.episode_types
    state_codes: np.ndarray  # uint8 per episode
    full: np.ndarray  # bool per episode: full-syndrome episode (DSM minimums apply)
    starts: np.ndarray  # int32 per episode
    lengths: np.ndarray  # int32 per episode (true length, also outside the window)
    ramp_in: np.ndarray  # int32 per episode: days of onset ramp after its start
    ramp_out: np.ndarray  # int32 per episode: days of recovery ramp before its end
    severity: np.ndarray  # float64 per episode: how far toward the state's profile


@dataclass(frozen=True)
class EpisodeInProgress:
    """Where a stored history left off, for a continuation that must not jump.

    ``state`` is the mood state of the last stored day and ``days_in_state`` how many days the
    history had spent in it up to and including that day (>= 1; across earlier continuations
    too). ``kind`` is the episode type's key (``EpisodeSpan.kind``) and ``true_days`` the
    episode's planned whole length (``EpisodeSpan.true_days``), when the stored truth has them:
    then the episode runs its planned course (so DSM-5 minimum lengths hold across the join);
    without them a type of the pattern with that state is taken and a length drawn, never
    shorter than ``days_in_state``.
    """

    state: MoodState
    days_in_state: int
    kind: str | None = None
    true_days: int | None = None


def _freeze(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def _uniform_below(draw: int, n: int) -> int:
    # Multiply-shift maps a 32-bit draw to [0, n) without floats (bias < n / 2**32).
    return (draw * n) >> 32


def sample_trajectory(
    pattern: Pattern,
    days: int,
    rng: np.random.Generator,
    *,
    continue_from: EpisodeInProgress | None = None,
) -> Trajectory:
    """Draw the episodes that cover ``days`` days of ``pattern``.

    With ``continue_from`` the window is the continuation of a stored history: its first
    episode is the one in progress on the stored last day (it began ``days_in_state`` days
    before the window), and every later one follows by the pattern's transition rows.
    Without it (the default, unchanged) the window opens in the stationary mix.
    """
    if pattern.independent_days:
        return _independent_days(pattern, days, rng)
    types = pattern.episode_types
    rows = pattern.transition_thresholds
    # Four 32-bit draws per episode: next type, length, ramps, severity. The first episode
    # uses its "ramps" draw for the offset of the window inside it instead.
    batch = max(16, days // 8)
    draws: list[list[int]] = rng.integers(0, UNIT, size=(batch, 4), dtype=np.uint64).tolist()

    first_type, first_length, offset_draw, first_severity = draws[0]
    if continue_from is None:
        t = bisect_right(pattern.initial_thresholds, first_type)
        length = types[t].duration.length_in_progress(first_length)
        start = -_uniform_below(offset_draw, length)
    else:
        t, length = _episode_in_progress(pattern, continue_from, first_length)
        start = -continue_from.days_in_state
    type_seq, starts, lengths = [t], [start], [length]
    ramp_draws, severity_draws = [0], [first_severity]
    end = start + length
    k = 0
    while end < days:
        k += 1
        if k == len(draws):
            draws = rng.integers(0, UNIT, size=(batch, 4), dtype=np.uint64).tolist()
            k = 0
        type_draw, length_draw, ramp_draw, severity_draw = draws[k]
        t = bisect_right(rows[t], type_draw)
        length = types[t].duration.length(length_draw)
        type_seq.append(t)
        starts.append(end)
        lengths.append(length)
        ramp_draws.append(ramp_draw)
        severity_draws.append(severity_draw)
        end += length

    n = len(type_seq)
    lengths_arr = np.array(lengths, dtype=np.int32)
    ramp_in = np.zeros(n, dtype=np.int32)
    ramp_out = np.zeros(n, dtype=np.int32)
    for i in range(1, n):
        before = 1 + ramp_draws[i] % MAX_RAMP_DAYS
        after = 1 + (ramp_draws[i] // MAX_RAMP_DAYS) % MAX_RAMP_DAYS
        # Each side may ramp over at most half of its episode minus one day, so every
        # episode keeps at least one day at its own profile (a 1-day deviation is a jump).
        ramp_out[i - 1] = min(before, (lengths[i - 1] - 1) // 2)
        ramp_in[i] = min(after, (lengths[i] - 1) // 2)

    type_index = np.array(type_seq, dtype=np.int16)
    state_lookup = np.array(pattern.state_codes, dtype=np.uint8)
    full_lookup = np.array([et.full for et in types], dtype=bool)
    intensity_lookup = np.array([et.intensity for et in types])
    state_codes = state_lookup[type_index]
    severity = intensity_lookup[type_index] * (
        1.0 - SEVERITY_SPREAD / 2 + SEVERITY_SPREAD * (np.array(severity_draws) / UNIT)
    )
    daily = np.repeat(state_codes, lengths_arr)[-starts[0] : -starts[0] + days]
    traj = Trajectory(
        days=days,
        daily_codes=np.ascontiguousarray(daily),
        type_index=type_index,
        state_codes=state_codes,
        full=full_lookup[type_index],
        starts=np.array(starts, dtype=np.int32),
        lengths=lengths_arr,
        ramp_in=ramp_in,
        ramp_out=ramp_out,
        severity=severity,
    )
    _freeze(
        traj.daily_codes,
        traj.type_index,
        traj.state_codes,
        traj.full,
        traj.starts,
        traj.lengths,
        traj.ramp_in,
        traj.ramp_out,
        traj.severity,
    )
    return traj


def _episode_in_progress(pattern: Pattern, where: EpisodeInProgress, length_draw: int) -> tuple[int, int]:
    """Type index and whole length of the episode a continuation starts inside."""
    if where.days_in_state < 1:
        raise InvalidHistoryParameterError(
            "continue_from", f"days_in_state must be >= 1, got {where.days_in_state}"
        )
    types = pattern.episode_types
    keyed = [i for i, et in enumerate(types) if et.key == where.kind and et.state is where.state]
    if keyed:
        t = keyed[0]
        if where.true_days is not None:
            return t, max(int(where.true_days), where.days_in_state)
    else:
        same_state = [i for i, et in enumerate(types) if et.state is where.state]
        if not same_state:
            raise InvalidHistoryParameterError(
                "continue_from", f"pattern {pattern.name!r} has no {where.state.value} episodes to continue"
            )
        # The type that holds most of the pattern's days in that state: the likeliest one.
        t = max(same_state, key=lambda i: pattern.type_time_shares[i])
    # An episode that has already lasted at least its drawn length ends with the stored day.
    return t, max(types[t].duration.length(length_draw), where.days_in_state)


def _independent_days(pattern: Pattern, days: int, rng: np.random.Generator) -> Trajectory:
    # The replaced system's "random": every day an independent state, no episodes, no ramps.
    draws = rng.integers(0, UNIT, size=days, dtype=np.uint64)
    codes = np.searchsorted(np.array(pattern.daily_thresholds, dtype=np.uint64), draws, side="right").astype(
        np.uint8
    )
    if days:
        change = np.flatnonzero(np.diff(codes)) + 1
        starts = np.concatenate(([0], change)).astype(np.int32)
        lengths = np.diff(np.concatenate((starts, [days]))).astype(np.int32)
    else:
        starts = lengths = np.zeros(0, dtype=np.int32)
    n = len(starts)
    traj = Trajectory(
        days=days,
        daily_codes=codes,
        type_index=np.full(n, -1, dtype=np.int16),
        state_codes=codes[starts] if n else np.zeros(0, dtype=np.uint8),
        full=np.zeros(n, dtype=bool),
        starts=starts,
        lengths=lengths,
        ramp_in=np.zeros(n, dtype=np.int32),
        ramp_out=np.zeros(n, dtype=np.int32),
        severity=np.ones(n),
    )
    _freeze(
        traj.daily_codes,
        traj.type_index,
        traj.state_codes,
        traj.full,
        traj.starts,
        traj.lengths,
        traj.ramp_in,
        traj.ramp_out,
        traj.severity,
    )
    return traj
