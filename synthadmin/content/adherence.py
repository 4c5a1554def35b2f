"""Which days of a history get a check-in.

Real daily charting is incomplete and missing days come in runs (holidays, bad weeks), with
depressive episodes lowering adherence (docs/clinical-model.md, "Patients do not check in every
day"). Each patient runs a two-state on/off Markov chain: from "on" they stop charting with a
state-dependent hazard, from "off" they resume with a fixed hazard (mean missing run of 3
days). The hazards are calibrated per pattern so that the long-run share of days with a
check-in equals the requested adherence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from synthadmin.content.registry import DEFAULT_ADHERENCE
from synthadmin.content.states import STATE_BY_CODE, MoodState

__all__ = ["DEFAULT_ADHERENCE", "SKIP_HAZARD_RATIO", "checkin_days", "skip_hazards"]


# How much more likely a patient is to stop charting on a day in each state than when
# euthymic. Depression lowers adherence most (docs/clinical-model.md); mania and mixed states
# disorganise routines too, to a lesser degree. Modelling choices, not published ratios.
SKIP_HAZARD_RATIO: Mapping[MoodState, float] = {
    MoodState.EUTHYMIC: 1.0,
    MoodState.DEPRESSED_MILD: 1.6,
    MoodState.DEPRESSED_SEVERE: 2.6,
    MoodState.HYPOMANIC: 0.9,
    MoodState.MANIC: 1.4,
    MoodState.MIXED: 1.8,
}
MEAN_MISSING_RUN_DAYS = 3.0
_MAX_HAZARD = 0.9
_BISECTION_STEPS = 60


@lru_cache(maxsize=256)
def skip_hazards(
    state_shares: tuple[float, ...], adherence: float, *, independent_days: bool = False
) -> tuple[tuple[float, ...], float]:
    """Per-state-code stop hazards and the resume hazard for a target adherence.

    ``state_shares`` is the pattern's long-run share of days per state code. The stop
    hazard of the euthymic state is found by bisection (a fixed number of steps, basic
    arithmetic only, so it is identical everywhere) such that the long-run share of days
    with a check-in equals ``adherence``. States lasting weeks let the on/off chain settle
    in each state (share-weighted ``resume / (resume + stop_s)``); states redrawn every
    day (``independent_days``) only expose it to the mean stop hazard.
    """
    ratios = [SKIP_HAZARD_RATIO[s] for s in STATE_BY_CODE]
    if adherence >= 1.0:
        return tuple(0.0 for _ in ratios), 1.0
    # Long missing runs are needed when adherence is low, else stop hazards would exceed 1.
    resume = min(
        1.0 / MEAN_MISSING_RUN_DAYS,
        0.8 * _MAX_HAZARD * adherence / (max(ratios) * (1.0 - adherence)),
    )

    def share(base: float) -> float:
        stops = [min(base * r, _MAX_HAZARD) for r in ratios]
        if independent_days:
            mean_stop = math.fsum(w * a for w, a in zip(state_shares, stops, strict=True))
            return resume / (resume + mean_stop)
        return math.fsum(w * resume / (resume + a) for w, a in zip(state_shares, stops, strict=True))

    lo, hi = 0.0, _MAX_HAZARD
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        if share(mid) > adherence:
            lo = mid
        else:
            hi = mid
    base = (lo + hi) / 2.0
    return tuple(min(base * r, _MAX_HAZARD) for r in ratios), resume


def checkin_days(
    daily_codes: np.ndarray,
    *,
    state_shares: tuple[float, ...],
    adherence: float,
    rng: np.random.Generator,
    independent_days: bool = False,
) -> np.ndarray:
    """Offsets (0-based days into the window) of the days with a check-in, increasing."""
    days = len(daily_codes)
    stop, resume = skip_hazards(state_shares, adherence, independent_days=independent_days)
    if adherence >= 1.0:
        return np.arange(days, dtype=np.int64)
    if days == 0:
        return np.zeros(0, dtype=np.int64)
    stop_by_day = np.array(stop)[daily_codes].tolist()
    draws = rng.random(days).tolist()
    mask = bytearray(days)
    # Start in the chain's stationary law for the first day's state.
    on = draws[0] < resume / (resume + stop_by_day[0])
    mask[0] = on
    for d in range(1, days):
        on = draws[d] >= stop_by_day[d] if on else draws[d] < resume
        mask[d] = on
    return np.flatnonzero(np.frombuffer(bytes(mask), dtype=np.uint8))
