"""A patient's whole synthetic history: daily states, check-in days and payload values.

:func:`build_history` is the one entry point: it is a pure function of its arguments (no
clock, no global random state), so the same arguments give byte-identical payloads anywhere.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from synthadmin.content.adherence import DEFAULT_ADHERENCE, checkin_days
from synthadmin.content.errors import InvalidHistoryParameterError
from synthadmin.content.latent import PatientTraits, daily_latents, draw_traits
from synthadmin.content.patterns import get_pattern
from synthadmin.content.payloads import (
    FIELD_INDEX,
    FIELDS,
    VALUE_DTYPE,
    format_json_columns,
    generate_values,
    rows_to_payloads,
)
from synthadmin.content.states import STATE_BY_CODE, STATE_CODE, MoodState
from synthadmin.content.trajectory import EpisodeInProgress, Trajectory, sample_trajectory

__all__ = [
    "MAX_HISTORY_DAYS",
    "EpisodeInProgress",
    "EpisodeRun",
    "EpisodeSpan",
    "JsonRow",
    "PatientHistory",
    "PatientTraits",
    "build_history",
    "continuation_seed",
    "continue_history",
    "patient_seed",
    "patient_traits",
]

MAX_HISTORY_DAYS = 36_525  # a century: beyond that a request is a mistake, not a patient

JsonRow = tuple[dt.date, str, str, str, str, str, str]
Payload = dict[str, dict[str, int | float]]


class EpisodeRun(NamedTuple):
    """A maximal run of days with the same mood state, clipped to the window."""

    state: MoodState
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Number of days in the run (inclusive)."""
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class EpisodeSpan:
    """One episode of the model, with what the daily states alone cannot say.

    ``full`` tells full-syndrome episodes (DSM-5 minimum lengths apply) from sub-threshold
    deviations and remission; ``kind`` is the episode type (e.g. "brief_hypomania"). An
    episode cut by the window edge has ``starts_before_window`` / ``ends_after_window`` set
    and ``true_days`` gives its whole length.
    """

    state: MoodState
    start: dt.date
    end: dt.date
    full: bool
    kind: str
    true_days: int
    starts_before_window: bool
    ends_after_window: bool

    @property
    def days(self) -> int:
        """Days of the episode inside the window."""
        return (self.end - self.start).days + 1


def patient_seed(run_seed: int, index: int) -> np.random.SeedSequence:
    """Seed of patient ``index`` of a generation run (``SeedSequence(run_seed).spawn`` child).

    Different indices give statistically independent patients; the same pair always gives
    the same patient.
    """
    _check_non_negative_int("run_seed", run_seed)
    _check_non_negative_int("index", index)
    return np.random.SeedSequence(int(run_seed), spawn_key=(int(index),))


def continuation_seed(patient: np.random.SeedSequence, start_date: dt.date) -> np.random.SeedSequence:
    """Seed of the continuation of a patient's history that starts on ``start_date``.

    A child of the patient's own seed (``patient_seed``) keyed by the start day: the same
    patient continued from the same day gets the same days, and every continuation's stream
    is independent of the patient's first history and of other continuations.
    """
    if isinstance(start_date, dt.datetime) or not isinstance(start_date, dt.date):
        raise InvalidHistoryParameterError("start_date", f"must be a datetime.date, got {start_date!r}")
    return np.random.SeedSequence(
        patient.entropy,
        spawn_key=(*patient.spawn_key, start_date.toordinal()),
        pool_size=patient.pool_size,
    )


def patient_traits(*, pattern: str, days: int, seed: int | np.random.SeedSequence) -> PatientTraits:
    """The traits the history ``build_history(pattern=..., days=..., seed=...)`` drew (pure).

    Replays only the draws made before them (the trajectory; the end date and adherence do not
    matter), so a continuation can keep the patient's own sleep offset, habits and rates.
    """
    model = get_pattern(pattern)
    _check_non_negative_int("days", days)
    rng = _generator(seed)
    sample_trajectory(model, int(days), rng)
    return draw_traits(rng)


def _check_non_negative_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidHistoryParameterError(name, f"must be an integer, got {value!r}")
    if value < 0:
        raise InvalidHistoryParameterError(name, f"must be >= 0, got {value}")


def _generator(seed: int | np.random.SeedSequence) -> np.random.Generator:
    if isinstance(seed, np.random.SeedSequence):
        # Rebuilt from the fields: reusing the caller's object would let its spawn counter
        # (mutated by any spawn() the caller makes) leak into our stream.
        sequence = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    else:
        _check_non_negative_int("seed", seed)
        sequence = np.random.SeedSequence(int(seed))
    return np.random.Generator(np.random.PCG64(sequence))


@dataclass(frozen=True, eq=False)
class PatientHistory:
    """The synthetic history of one patient over ``start_date .. end_date`` (inclusive).

    ``daily_states`` holds the mood-state code (index into ``STATE_BY_CODE``) of every day of
    the window, checked in or not; ``checkin_dates`` the days with a check-in (strictly
    increasing); ``values`` one row of payload values per check-in in ``FIELDS`` order, float
    fields as integer tenths. Arrays are read-only.
    """

    pattern: str
    start_date: dt.date
    end_date: dt.date
    adherence: float
    daily_states: np.ndarray = field(repr=False)
    checkin_offsets: np.ndarray = field(repr=False)
    checkin_dates: tuple[dt.date, ...] = field(repr=False)
    values: np.ndarray = field(repr=False)
    trajectory: Trajectory = field(repr=False)

    def __len__(self) -> int:
        return len(self.checkin_dates)

    @property
    def days(self) -> int:
        """Length of the window in days (checked in or not)."""
        return len(self.daily_states)

    # --- payloads ---------------------------------------------------------------------

    def iter_payloads(self) -> Iterator[tuple[dt.date, Payload]]:
        """``(date, {column: {key: value}})`` per check-in, every key of the contract."""
        return zip(self.checkin_dates, rows_to_payloads(self.values), strict=True)

    def iter_json_rows(self) -> Iterator[JsonRow]:
        """``(date, sleep, mood, symptoms, risk, appetite, meds)`` JSON strings per check-in.

        Compact JSON (no spaces) that ``json.loads`` to exactly the :meth:`iter_payloads`
        dicts; this is the fast path for bulk COPY.
        """
        dates = self.checkin_dates
        done = 0
        for columns in format_json_columns(self.values):
            n = len(columns[0])
            yield from zip(dates[done : done + n], *columns, strict=True)
            done += n

    def field_values(self, key: str) -> np.ndarray:
        """One payload key across all check-ins (float for hoursSlept/perceivedSleepNeed)."""
        try:
            i = FIELD_INDEX[key]
        except KeyError:
            raise KeyError(f"unknown payload key {key!r}") from None
        column = self.values[:, i]
        return column / 10.0 if FIELDS[i].kind == "tenths" else column.copy()

    # --- states -----------------------------------------------------------------------

    def state_on(self, day: dt.date) -> MoodState:
        """Mood state on ``day`` (any day of the window, checked in or not)."""
        offset = (day - self.start_date).days
        if not 0 <= offset < self.days:
            raise ValueError(f"{day} is outside {self.start_date}..{self.end_date}")
        return STATE_BY_CODE[int(self.daily_states[offset])]

    @property
    def checkin_state_codes(self) -> np.ndarray:
        """State code of each check-in day."""
        codes: np.ndarray = self.daily_states[self.checkin_offsets]
        return codes

    def checkin_states(self) -> tuple[MoodState, ...]:
        """Mood state of each check-in day, aligned with ``checkin_dates``."""
        return tuple(STATE_BY_CODE[c] for c in self.checkin_state_codes.tolist())

    def state_shares(self, *, checkins_only: bool = False) -> dict[MoodState, float]:
        """Share of days (or of check-ins) per state; all zero for an empty history."""
        codes = self.checkin_state_codes if checkins_only else self.daily_states
        counts = np.bincount(codes, minlength=len(STATE_BY_CODE))
        total = int(counts.sum())
        return {s: (int(counts[STATE_CODE[s]]) / total if total else 0.0) for s in MoodState}

    def episodes(self) -> list[EpisodeRun]:
        """Runs of equal daily states as ``(state, start, end)``, in date order."""
        return [EpisodeRun(s.state, s.start, s.end) for s in self.episode_spans()]

    def episode_spans(self) -> list[EpisodeSpan]:
        """The model's episodes inside the window, with full/sub-threshold labels."""
        traj = self.trajectory
        types = get_pattern(self.pattern).episode_types
        spans: list[EpisodeSpan] = []
        for t, code, full, start, length in zip(
            traj.type_index.tolist(),
            traj.state_codes.tolist(),
            traj.full.tolist(),
            traj.starts.tolist(),
            traj.lengths.tolist(),
            strict=True,
        ):
            first, last = max(start, 0), min(start + length, self.days) - 1
            if last < first:
                continue
            spans.append(
                EpisodeSpan(
                    state=STATE_BY_CODE[code],
                    start=self.start_date + dt.timedelta(days=first),
                    end=self.start_date + dt.timedelta(days=last),
                    full=full,
                    kind=types[t].key if t >= 0 else "independent_day",
                    true_days=length,
                    starts_before_window=start < 0,
                    ends_after_window=start + length > self.days,
                )
            )
        return spans


def _validate(end_date: object, days: object, adherence: object) -> tuple[dt.date, int, float]:
    if isinstance(end_date, dt.datetime) or not isinstance(end_date, dt.date):
        raise InvalidHistoryParameterError(
            "end_date", f"must be a datetime.date (not a datetime), got {end_date!r}"
        )
    _check_non_negative_int("days", days)
    assert isinstance(days, numbers.Integral)
    n_days = int(days)
    if n_days > MAX_HISTORY_DAYS:
        raise InvalidHistoryParameterError("days", f"must be <= {MAX_HISTORY_DAYS}, got {days}")
    if n_days > end_date.toordinal():
        raise InvalidHistoryParameterError("days", f"window would start before {dt.date.min}")
    if isinstance(adherence, bool) or not isinstance(adherence, numbers.Real):
        raise InvalidHistoryParameterError("adherence", f"must be a number, got {adherence!r}")
    share = float(adherence)
    if not (math.isfinite(share) and 0.0 < share <= 1.0):
        raise InvalidHistoryParameterError(
            "adherence", f"must be in (0, 1] (share of days with a check-in), got {adherence!r}"
        )
    return end_date, n_days, share


def build_history(
    *,
    pattern: str,
    end_date: dt.date,
    days: int,
    seed: int | np.random.SeedSequence,
    adherence: float = DEFAULT_ADHERENCE,
) -> PatientHistory:
    """Build one patient's history over the ``days`` days ending on ``end_date`` (inclusive).

    Raises :class:`UnknownPatternError` for an unknown ``pattern`` and
    :class:`InvalidHistoryParameterError` (a ``ValueError``) for ``days < 0``, an adherence
    outside ``(0, 1]``, a negative or non-integer seed, or a non-date ``end_date``.
    ``days == 0`` gives an empty history whose ``start_date`` is the day after ``end_date``.
    """
    return _build(pattern=pattern, end_date=end_date, days=days, seed=seed, adherence=adherence)


def continue_history(
    *,
    pattern: str,
    end_date: dt.date,
    days: int,
    seed: int | np.random.SeedSequence,
    continue_from: EpisodeInProgress,
    adherence: float = DEFAULT_ADHERENCE,
    traits: PatientTraits | None = None,
) -> PatientHistory:
    """The ``days`` days ending ``end_date`` as the continuation of a stored history.

    The stored history ended the day before this window; ``continue_from`` says where it left
    off (see :class:`EpisodeInProgress`). The first day's state is that episode carried on, or
    — when it ended with the stored day — the next episode drawn by the pattern's transition
    row from it: never a jump, and DSM-5 minimum lengths hold across the join
    (docs/clinical-model.md, "Episode definitions"). Use :func:`continuation_seed` for ``seed``
    and :func:`patient_traits` for ``traits`` (the patient's own habits; drawn afresh when
    None). Raises as :func:`build_history` does, and :class:`InvalidHistoryParameterError` for
    a state the pattern never has or ``days_in_state < 1``.
    """
    return _build(
        pattern=pattern,
        end_date=end_date,
        days=days,
        seed=seed,
        adherence=adherence,
        continue_from=continue_from,
        traits=traits,
    )


def _build(
    *,
    pattern: str,
    end_date: dt.date,
    days: int,
    seed: int | np.random.SeedSequence,
    adherence: float,
    continue_from: EpisodeInProgress | None = None,
    traits: PatientTraits | None = None,
) -> PatientHistory:
    model = get_pattern(pattern)
    end, n_days, share = _validate(end_date, days, adherence)
    rng = _generator(seed)
    start = end - dt.timedelta(days=n_days - 1)

    # One stream, consumed in a fixed order: trajectory, latents, check-in days, fields. The
    # mood course therefore does not depend on the adherence asked for.
    traj = sample_trajectory(model, n_days, rng, continue_from=continue_from)
    latents = daily_latents(traj, rng, independent=model.independent_days, traits=traits) if n_days else None
    offsets = checkin_days(
        traj.daily_codes,
        state_shares=tuple(model.model_shares[s] for s in STATE_BY_CODE),
        adherence=share,
        rng=rng,
        independent_days=model.independent_days,
    )
    if latents is not None:
        values = generate_values(traj, latents, offsets, rng)
    else:
        values = np.zeros((0, len(FIELDS)), dtype=VALUE_DTYPE)
    values.setflags(write=False)
    offsets.setflags(write=False)
    # datetime64 -> date conversion happens in C (4x faster than date.fromordinal per day).
    dates = (np.datetime64(start, "D") + offsets).tolist() if n_days else []
    return PatientHistory(
        pattern=model.name,
        start_date=start,
        end_date=end,
        adherence=share,
        daily_states=traj.daily_codes,
        checkin_offsets=offsets,
        checkin_dates=tuple(dates),
        values=values,
        trajectory=traj,
    )
