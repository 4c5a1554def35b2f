"""Discrete, right-skewed episode-length distributions and their sampling tables.

Solomon et al. 2010 found that episode lengths vary widely within one person (intraclass
correlation 0.07), so each episode's length is drawn independently from a discretised
log-normal distribution truncated to ``[min_days, max_days]``. The truncation carries the DSM-5
minimum durations (mania >= 7 days, hypomania >= 4, major depression >= 14) and, for rapid
cycling, the caps that guarantee enough episodes per year.

Sampling compares 32-bit integer draws with integer cumulative thresholds, so the same seed
gives the same lengths on every machine: floating-point rounding in the table construction can
only matter if a draw lands exactly on a threshold.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

__all__ = ["UNIT", "DurationSpec", "explicit_days", "lognormal_days", "thresholds"]

# Draws are uniform integers in [0, UNIT); probability p becomes round(p * UNIT) ticks.
UNIT: int = 1 << 32


def thresholds(weights: tuple[float, ...]) -> tuple[int, ...]:
    """Integer cumulative thresholds (last == UNIT) for sampling with :func:`bisect_right`.

    Zero-weight entries get a zero-width interval, so they are never drawn.
    """
    total = math.fsum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
    cumulative: list[int] = []
    running = 0.0
    for w in weights:
        running += w
        cumulative.append(round(running / total * UNIT))
    # Zero-weight entries repeat their predecessor's threshold, so bisect_right never picks
    # them; the tail from the last positive weight on must reach UNIT exactly.
    last_positive = max(i for i, w in enumerate(weights) if w > 0)
    for i in range(last_positive, len(cumulative)):
        cumulative[i] = UNIT
    return tuple(cumulative)


@dataclass(frozen=True)
class DurationSpec:
    """An episode-length distribution over whole days.

    ``probabilities[i]`` is the probability of a length of ``min_days + i`` days. ``source``
    says which clinical fact the parameters come from (shown in docs/patterns.md).
    """

    min_days: int
    probabilities: tuple[float, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if self.min_days < 1:
            raise ValueError("episodes last at least one day")
        if not self.probabilities or abs(math.fsum(self.probabilities) - 1.0) > 1e-9:
            raise ValueError("probabilities must be non-empty and sum to 1")

    @property
    def max_days(self) -> int:
        """Longest possible length."""
        return self.min_days + len(self.probabilities) - 1

    @cached_property
    def mean(self) -> float:
        """Expected length in days (drives the stationary time shares)."""
        return math.fsum((self.min_days + i) * p for i, p in enumerate(self.probabilities))

    @cached_property
    def median(self) -> int:
        """Median length in days."""
        running = 0.0
        for i, p in enumerate(self.probabilities):
            running += p
            if running >= 0.5:
                return self.min_days + i
        return self.max_days

    @cached_property
    def _thresholds(self) -> tuple[int, ...]:
        return thresholds(self.probabilities)

    @cached_property
    def _length_biased_thresholds(self) -> tuple[int, ...]:
        # A day picked at random falls in an episode with probability proportional to its
        # length: this is the length of the episode in progress on a stationary start day.
        return thresholds(tuple((self.min_days + i) * p for i, p in enumerate(self.probabilities)))

    def length(self, draw: int) -> int:
        """Length for one uniform integer draw in ``[0, UNIT)``."""
        return self.min_days + bisect_right(self._thresholds, draw)

    def length_in_progress(self, draw: int) -> int:
        """Total length of the episode covering a stationary random day (length-biased)."""
        return self.min_days + bisect_right(self._length_biased_thresholds, draw)


def lognormal_days(
    *, median: float, sigma: float, min_days: int, max_days: int, source: str = ""
) -> DurationSpec:
    """Log-normal(median, sigma) lengths rounded to whole days and truncated to the bounds.

    Day ``k`` gets the probability mass of ``[k - 0.5, k + 0.5)``; mass outside the bounds is
    dropped and the rest renormalised (truncation, not piling up at the bounds).
    """
    if not 1 <= min_days <= max_days:
        raise ValueError(f"need 1 <= min_days <= max_days, got {min_days}, {max_days}")
    mu = math.log(median)

    def cdf(x: float) -> float:
        return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))

    masses = [cdf(k + 0.5) - cdf(k - 0.5) for k in range(min_days, max_days + 1)]
    total = math.fsum(masses)
    return DurationSpec(min_days, tuple(m / total for m in masses), source)


def explicit_days(weights_by_length: dict[int, float], *, source: str = "") -> DurationSpec:
    """A hand-written length distribution, e.g. for brief 1-3 day deviations."""
    lo, hi = min(weights_by_length), max(weights_by_length)
    raw = [weights_by_length.get(k, 0.0) for k in range(lo, hi + 1)]
    total = math.fsum(raw)
    return DurationSpec(lo, tuple(w / total for w in raw), source)
