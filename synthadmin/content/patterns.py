"""Clinical patterns: target time shares, episode types and the semi-Markov chain behind each.

A pattern is a semi-Markov process over *episode types*. Each type maps to a
:class:`~synthadmin.content.states.MoodState`, says whether it is a full-syndrome episode (DSM-5
duration minimums apply) or a sub-threshold deviation, and has its own length distribution.
The jump chain never repeats a mood state, so every run of equal daily states is exactly one
episode.

For the "hub" patterns (stable, cycling, depressive, manic) the chain is solved in closed form
from the published time shares: an episode ends in remission (euthymia) with probability ``r``
or switches directly to another episode type; from euthymia the next episode type is chosen so
that the long-run share of days in every type equals its target. Transition and length tables
are quantised to integer sampling thresholds (see durations.py), so machine-level rounding in
their construction cannot change a draw.

Every number below is traced to a line of ``docs/clinical-model.md``; see
docs/patterns.md for the prose version and the measured shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import numpy as np

from synthadmin.content.durations import DurationSpec, explicit_days, lognormal_days, thresholds
from synthadmin.content.errors import UnknownPatternError
from synthadmin.content.registry import PATTERN_NAMES
from synthadmin.content.states import STATE_BY_CODE, STATE_CODE, MoodState

__all__ = [
    "PATTERNS",
    "PATTERN_NAMES",
    "EpisodeType",
    "Pattern",
    "get_pattern",
]

E = MoodState.EUTHYMIC
DM = MoodState.DEPRESSED_MILD
DS = MoodState.DEPRESSED_SEVERE
HY = MoodState.HYPOMANIC
MA = MoodState.MANIC
MX = MoodState.MIXED

# DSM-5 minimum lengths of full-syndrome episodes (docs/clinical-model.md, "Episode definitions").
# Mixed features ride on a manic or depressive episode; the shorter (manic) minimum applies.
DSM_MINIMUM_DAYS: Mapping[MoodState, int] = MappingProxyType({MA: 7, HY: 4, DS: 14, MX: 7})


@dataclass(frozen=True)
class EpisodeType:
    """One kind of episode in a pattern's chain.

    ``full`` is True for full-syndrome episodes (their lengths respect the DSM-5 minimums) and
    False for sub-threshold deviations (brief hypomanic days, minor depression) and remission.
    ``intensity`` scales how far the day-level latent profile moves from euthymia toward the
    state's profile (brief deviations move less).
    """

    key: str
    state: MoodState
    full: bool
    duration: DurationSpec
    intensity: float = 1.0
    # Rapid cycling keeps a memory of the last pole through remission; other patterns do not.
    pole: str = ""


# --- Episode lengths (Solomon et al. 2010) -----------------------------------------------
# Major depression: median about 14 weeks. Recovery relative to major depression is 1.7x
# faster from mania, 4.5x from hypomania, 2.0x from minor depression (which is about 8 weeks)
# and 0.44x (slower) from cycling/mixed episodes. sigma 0.7-0.8 gives the wide spread (ICC
# 0.07) and leaves about 5 % of major depressions longer than a year ("over 75 % recover
# within a year").
MDE_MEDIAN_DAYS = 98.0
SOLOMON = "Solomon 2010"

MAJOR_DEPRESSION = lognormal_days(
    median=MDE_MEDIAN_DAYS,
    sigma=0.8,
    min_days=14,
    max_days=730,
    source=f"{SOLOMON}: median 14 weeks; DSM-5 minimum 2 weeks",
)
MINOR_DEPRESSION = lognormal_days(
    median=56.0,
    sigma=0.8,
    min_days=7,
    max_days=365,
    source=f"{SOLOMON}: minor depression about 8 weeks (2.0x faster recovery)",
)
MANIA = lognormal_days(
    median=MDE_MEDIAN_DAYS / 1.7,
    sigma=0.7,
    min_days=7,
    max_days=365,
    source=f"{SOLOMON}: 1.7x faster recovery than major depression; DSM-5 minimum 7 days",
)
HYPOMANIA = lognormal_days(
    median=MDE_MEDIAN_DAYS / 4.5,
    sigma=0.7,
    min_days=4,
    max_days=180,
    source=f"{SOLOMON}: 4.5x faster recovery than major depression; DSM-5 minimum 4 days",
)
MIXED_EPISODE = lognormal_days(
    median=MDE_MEDIAN_DAYS / 0.44,
    sigma=0.7,
    min_days=7,
    max_days=730,
    source=f"{SOLOMON}: 0.44x (slower) recovery than major depression",
)
BRIEF_HYPOMANIA = explicit_days(
    {1: 0.55, 2: 0.28, 3: 0.17},
    source="Bauer 2011: single hypomanic days are common (69 % of patients)",
)
# Daily charting resolves short sub-threshold dips that weekly ratings smooth over; their
# length is a modelling choice (no published figure), kept well under the minor-depression
# median so that "stable" deviates briefly.
BRIEF_DIP = lognormal_days(
    median=5.0,
    sigma=0.8,
    min_days=1,
    max_days=60,
    source="modelling choice: brief sub-threshold dips in daily charts (Bauer 2023 cohort)",
)


def _remission(median: float, *, min_days: int = 3, max_days: int = 730) -> DurationSpec:
    # Remission lengths are not published directly: each pattern's median is chosen so that
    # about 3 in 4 episodes end in remission and the rest switch directly (Judd 2002: status
    # changes about 6x a year, polarity more than 3x a year).
    return lognormal_days(
        median=median,
        sigma=0.8,
        min_days=min_days,
        max_days=max_days,
        source="derived: remission length that yields the published time shares",
    )


@dataclass(frozen=True)
class Pattern:
    """A named trajectory model.

    ``target_shares`` is the published (or, for rapid_cycling and manic, chosen) share of days
    per mood state; tests compare simulated histories against it. ``transitions[i][j]`` is the
    probability that an episode of type ``i`` is followed by one of type ``j``.
    """

    name: str
    description: str
    is_clinical: bool
    target_shares: Mapping[MoodState, float]
    sources: tuple[str, ...]
    episode_types: tuple[EpisodeType, ...] = ()
    transitions: tuple[tuple[float, ...], ...] = ()
    # random only: every day's state is an independent draw (the replaced system's behaviour).
    independent_days: bool = False
    # rapid_cycling only: longest possible gap between two episode onsets (by construction).
    max_onset_gap_days: int | None = None
    notes: tuple[str, ...] = field(default=())

    @cached_property
    def state_codes(self) -> tuple[int, ...]:
        """Mood-state code of each episode type."""
        return tuple(STATE_CODE[t.state] for t in self.episode_types)

    @cached_property
    def transition_thresholds(self) -> tuple[tuple[int, ...], ...]:
        """Integer sampling thresholds of each transition row."""
        return tuple(thresholds(row) for row in self.transitions)

    @cached_property
    def jump_stationary(self) -> tuple[float, ...]:
        """Long-run share of *episodes* of each type (stationary law of the jump chain)."""
        p = np.array(self.transitions, dtype=float)
        n = len(p)
        a = np.vstack([p.T - np.eye(n), np.ones((1, n))])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        nu = np.linalg.lstsq(a, b, rcond=None)[0]
        # Rounding keeps machine-level noise from the solver out of the sampling tables.
        return tuple(max(0.0, round(float(x), 12)) for x in nu)

    @cached_property
    def type_time_shares(self) -> tuple[float, ...]:
        """Long-run share of *days* spent in each episode type (semi-Markov stationary law)."""
        weights = [
            nu * t.duration.mean for nu, t in zip(self.jump_stationary, self.episode_types, strict=True)
        ]
        total = math.fsum(weights)
        return tuple(w / total for w in weights)

    @cached_property
    def initial_thresholds(self) -> tuple[int, ...]:
        """Sampling thresholds for the type in progress on the first day (stationary start)."""
        return thresholds(self.type_time_shares)

    @cached_property
    def model_shares(self) -> Mapping[MoodState, float]:
        """Share of days per mood state implied by the chain (equals the targets when solved)."""
        if self.independent_days:
            return self.target_shares
        shares = dict.fromkeys(MoodState, 0.0)
        for share, t in zip(self.type_time_shares, self.episode_types, strict=True):
            shares[t.state] += share
        return MappingProxyType(shares)

    @cached_property
    def daily_thresholds(self) -> tuple[int, ...]:
        """random only: thresholds for an independent state draw per day."""
        return thresholds(tuple(self.target_shares.get(s, 0.0) for s in STATE_BY_CODE))

    @cached_property
    def status_changes_per_year(self) -> float:
        """Expected number of state changes per 365 days (Judd 2002: about 6 for cycling)."""
        if self.independent_days:
            same = math.fsum(p * p for p in self.target_shares.values())
            return 365.0 * (1.0 - same)
        mean_sojourn = math.fsum(
            nu * t.duration.mean for nu, t in zip(self.jump_stationary, self.episode_types, strict=True)
        )
        return 365.0 / mean_sojourn


def _shares(**by_state: float) -> Mapping[MoodState, float]:
    shares = {MoodState(k): v for k, v in by_state.items()}
    total = math.fsum(shares.values())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"target shares must sum to 1, got {total}")
    return MappingProxyType({s: shares.get(s, 0.0) for s in MoodState})


def _hub_transitions(
    types: tuple[EpisodeType, ...],
    time_shares: Mapping[str, float],
    switches: Mapping[str, Mapping[str, float]],
) -> tuple[tuple[float, ...], ...]:
    """Solve the hub chain whose long-run share of days per type equals ``time_shares``.

    Visits per day to type t are ``nu_t = share_t / mean_length_t``. Every episode ends in
    remission with the same probability ``r = nu_remission / sum(nu_episodes)``, otherwise it
    switches to another episode type with probability proportional to the clinical affinity in
    ``switches`` times that type's visit rate. From remission the next episode type is whatever
    is left of each type's visit rate after switch inflow.
    """
    keys = [t.key for t in types]
    hub = keys[0]
    if types[0].state is not E:
        raise ValueError("the first episode type of a hub pattern must be the remission type")
    nu = {t.key: time_shares[t.key] / t.duration.mean for t in types}
    episodes = keys[1:]
    r = nu[hub] / math.fsum(nu[k] for k in episodes)
    if not 0.0 < r <= 1.0:
        raise ValueError(f"remission probability {r:.3f} out of (0, 1]: adjust remission length")
    normalised = {}
    for k in episodes:
        # Affinity times visit rate: a switch lands on common episode types more often, so no
        # rare type (mania, mixed) is flooded by switches from a frequent one.
        weights = {d: w * nu[d] for d, w in switches.get(k, {}).items()}
        total = math.fsum(weights.values())
        normalised[k] = {d: w / total for d, w in weights.items()} if total else {}
        if not normalised[k] and r < 1.0:
            raise ValueError(f"episode type {k!r} needs switch destinations")
    inflow = dict.fromkeys(keys, 0.0)
    for k in episodes:
        for dest, w in normalised[k].items():
            inflow[dest] += nu[k] * (1.0 - r) * w
    from_hub = {k: (nu[k] - inflow[k]) / nu[hub] for k in episodes}
    if min(from_hub.values()) < -1e-12:
        raise ValueError(f"switch inflow exceeds visit rate: {from_hub}")
    rows: list[tuple[float, ...]] = []
    for k in keys:
        if k == hub:
            row = [0.0] + [max(0.0, from_hub[d]) for d in episodes]
        else:
            row = [r if d == hub else (1.0 - r) * normalised[k].get(d, 0.0) for d in keys]
        total = math.fsum(row)
        rows.append(tuple(x / total for x in row))
    return tuple(rows)


def _hub_pattern(
    *,
    name: str,
    description: str,
    target: Mapping[MoodState, float],
    types: tuple[EpisodeType, ...],
    type_shares: Mapping[str, float],
    switches: Mapping[str, Mapping[str, float]],
    sources: tuple[str, ...],
    notes: tuple[str, ...] = (),
) -> Pattern:
    per_state = dict.fromkeys(MoodState, 0.0)
    for t in types:
        per_state[t.state] += type_shares[t.key]
    for state, share in per_state.items():
        if abs(share - target[state]) > 1e-9:
            raise ValueError(f"{name}: type shares for {state} do not add up to the target")
    return Pattern(
        name=name,
        description=description,
        is_clinical=True,
        target_shares=target,
        sources=sources,
        episode_types=types,
        transitions=_hub_transitions(types, type_shares, switches),
        notes=notes,
    )


def _stable() -> Pattern:
    # Bauer 2023 ChronoRecord (609 treated outpatients charting daily): euthymic 70.8 %, mild
    # depression 15.1 %, severe depression 6.6 %, hypomania 6.6 %, mania 0.8 % (sums to
    # 99.9 %; the missing 0.1 % goes to euthymia).
    target = _shares(
        euthymic=0.709,
        depressed_mild=0.151,
        depressed_severe=0.066,
        hypomanic=0.066,
        manic=0.008,
    )
    types = (
        EpisodeType("remission", E, False, _remission(21.0, min_days=2)),
        EpisodeType("mild_dip", DM, False, BRIEF_DIP),
        EpisodeType("major_depression", DS, True, MAJOR_DEPRESSION),
        EpisodeType("brief_hypomania", HY, False, BRIEF_HYPOMANIA, intensity=0.8),
        EpisodeType("hypomania", HY, True, HYPOMANIA),
        EpisodeType("mania", MA, True, MANIA),
    )
    # Single hypomanic days are common (Bauer 2011: 69 % of patients had them): 1 % of days
    # are brief 1-3 day deviations (about 2.3 a year, so about 70 % of patients have at
    # least one single hypomanic day a year); the rest of the 6.6 % are full episodes.
    type_shares = {
        "remission": 0.709,
        "mild_dip": 0.151,
        "major_depression": 0.066,
        "brief_hypomania": 0.010,
        "hypomania": 0.056,
        "mania": 0.008,
    }
    switches = {
        "mild_dip": {"major_depression": 1.0, "brief_hypomania": 1.0, "hypomania": 1.0},
        "major_depression": {"mild_dip": 0.8, "hypomania": 0.15, "mania": 0.05},
        "brief_hypomania": {"mild_dip": 1.0},
        "hypomania": {"mild_dip": 0.7, "major_depression": 0.3},
        "mania": {"major_depression": 0.5, "mild_dip": 0.5},
    }
    return _hub_pattern(
        name="stable",
        description=(
            "Treated outpatient charting daily (Bauer 2023 ChronoRecord): mostly euthymic with "
            "brief sub-threshold dips and single hypomanic days, occasional full episodes."
        ),
        target=target,
        types=types,
        type_shares=type_shares,
        switches=switches,
        sources=("Bauer 2023", "Bauer 2011", SOLOMON, "DSM-5"),
    )


def _cycling() -> Pattern:
    # Judd 2002 (bipolar I): symptomatic 47.3 % of weeks: depressive 31.9 %, manic/hypomanic
    # 8.9 %, mixed/cycling 5.9 %; sub-threshold weeks about 3x as common as full-syndrome
    # weeks, so depressive = 3/4 minor + 1/4 major and manic-pole = 3/4 hypomanic + 1/4 manic.
    target = _shares(
        euthymic=0.533,
        depressed_mild=0.239,
        depressed_severe=0.080,
        hypomanic=0.067,
        manic=0.022,
        mixed=0.059,
    )
    types = (
        EpisodeType("remission", E, False, _remission(55.0, min_days=7)),
        EpisodeType("minor_depression", DM, False, MINOR_DEPRESSION),
        EpisodeType("major_depression", DS, True, MAJOR_DEPRESSION),
        EpisodeType("brief_hypomania", HY, False, BRIEF_HYPOMANIA, intensity=0.8),
        EpisodeType("hypomania", HY, True, HYPOMANIA),
        EpisodeType("mania", MA, True, MANIA),
        EpisodeType("mixed", MX, True, MIXED_EPISODE),
    )
    type_shares = {
        "remission": 0.533,
        "minor_depression": 0.239,
        "major_depression": 0.080,
        "brief_hypomania": 0.004,
        "hypomania": 0.063,
        "mania": 0.022,
        "mixed": 0.059,
    }
    switches = {
        "minor_depression": {
            "major_depression": 0.35,
            "hypomania": 0.3,
            "brief_hypomania": 0.1,
            "mixed": 0.15,
            "mania": 0.1,
        },
        "major_depression": {"minor_depression": 0.5, "hypomania": 0.2, "mania": 0.15, "mixed": 0.15},
        "brief_hypomania": {"minor_depression": 0.7, "major_depression": 0.3},
        "hypomania": {"minor_depression": 0.5, "major_depression": 0.3, "mixed": 0.2},
        "mania": {"major_depression": 0.45, "minor_depression": 0.35, "mixed": 0.2},
        "mixed": {"major_depression": 0.4, "minor_depression": 0.4, "mania": 0.1, "hypomania": 0.1},
    }
    return _hub_pattern(
        name="cycling",
        description=(
            "Bipolar I natural course (Judd 2002): symptomatic about 47 % of the time, mostly "
            "depressive, with manic, hypomanic and mixed episodes; status changes about 6x a year."
        ),
        target=target,
        types=types,
        type_shares=type_shares,
        switches=switches,
        sources=("Judd 2002", SOLOMON, "DSM-5"),
        notes=(
            "the published components (31.9 + 8.9 + 5.9 = 46.7 %) are used; the 0.6 points "
            "to Judd's 47.3 % symptomatic total go to euthymia",
        ),
    )


def _depressive() -> Pattern:
    # Judd 2003 (bipolar II): symptomatic 53.9 % of weeks: depressive 50.3 %, hypomanic 1.3 %,
    # mixed 2.3 %; the depressive share is split 3:1 sub-threshold:major as for bipolar I.
    target = _shares(
        euthymic=0.461,
        depressed_mild=0.377,
        depressed_severe=0.126,
        hypomanic=0.013,
        mixed=0.023,
    )
    types = (
        EpisodeType("remission", E, False, _remission(52.0, min_days=7)),
        EpisodeType("minor_depression", DM, False, MINOR_DEPRESSION),
        EpisodeType("major_depression", DS, True, MAJOR_DEPRESSION),
        EpisodeType("brief_hypomania", HY, False, BRIEF_HYPOMANIA, intensity=0.8),
        EpisodeType("hypomania", HY, True, HYPOMANIA),
        EpisodeType("mixed", MX, True, MIXED_EPISODE),
    )
    type_shares = {
        "remission": 0.461,
        "minor_depression": 0.377,
        "major_depression": 0.126,
        "brief_hypomania": 0.003,
        "hypomania": 0.010,
        "mixed": 0.023,
    }
    switches = {
        "minor_depression": {"major_depression": 0.6, "hypomania": 0.2, "brief_hypomania": 0.1, "mixed": 0.1},
        "major_depression": {"minor_depression": 0.8, "hypomania": 0.1, "mixed": 0.1},
        "brief_hypomania": {"minor_depression": 0.7, "major_depression": 0.3},
        "hypomania": {"minor_depression": 0.6, "major_depression": 0.3, "mixed": 0.1},
        "mixed": {"major_depression": 0.5, "minor_depression": 0.5},
    }
    return _hub_pattern(
        name="depressive",
        description=(
            "Bipolar II-like course (Judd 2003): depressive about half of the time, rare "
            "hypomanic and mixed episodes, no mania."
        ),
        target=target,
        types=types,
        type_shares=type_shares,
        switches=switches,
        sources=("Judd 2003", "Judd 2002", SOLOMON, "DSM-5"),
    )


def _manic() -> Pattern:
    # No published cohort: a manic/hypomanic-dominant period chosen for demos of the mania
    # side of the app. Target: 55 % manic + hypomanic days, 8 % mixed, 7 % post-manic minor
    # depression, no major depression. Hypomania may escalate straight into mania here.
    target = _shares(
        euthymic=0.30,
        depressed_mild=0.07,
        hypomanic=0.25,
        manic=0.30,
        mixed=0.08,
    )
    types = (
        EpisodeType("remission", E, False, _remission(18.0, min_days=3)),
        EpisodeType("minor_depression", DM, False, MINOR_DEPRESSION),
        EpisodeType("hypomania", HY, True, HYPOMANIA),
        EpisodeType("mania", MA, True, MANIA),
        EpisodeType("mixed", MX, True, MIXED_EPISODE),
    )
    type_shares = {
        "remission": 0.30,
        "minor_depression": 0.07,
        "hypomania": 0.25,
        "mania": 0.30,
        "mixed": 0.08,
    }
    switches = {
        "minor_depression": {"hypomania": 1.0, "mania": 1.0, "mixed": 1.0},
        "hypomania": {"mania": 1.0, "minor_depression": 1.0, "mixed": 1.0},
        "mania": {"minor_depression": 1.0, "mixed": 1.0, "hypomania": 1.0},
        "mixed": {"minor_depression": 1.0, "mania": 1.0, "hypomania": 1.0},
    }
    return _hub_pattern(
        name="manic",
        description=(
            "Manic/hypomanic-dominant period (chosen targets, no cohort figure): about 55 % of "
            "days manic or hypomanic, some mixed and post-manic dips, no major depression."
        ),
        target=target,
        types=types,
        type_shares=type_shares,
        switches=switches,
        sources=(SOLOMON, "DSM-5"),
    )


def _rapid_cycling() -> Pattern:
    # DSM-5 rapid cycling: at least 4 mood episodes in 12 months, separated by remission or a
    # switch of polarity. Guaranteed by construction: episodes and remissions are capped so
    # that consecutive onsets are at most 91 days apart (60-day episode + 31-day remission),
    # hence any 365-day window holds at least 4 onsets. Consecutive episodes always change
    # pole (the remission types remember the last pole), so none merge into one episode.
    dep = lognormal_days(
        median=35.0,
        sigma=0.4,
        min_days=14,
        max_days=60,
        source="DSM-5 minimum 2 weeks; capped for >= 4 episodes a year",
    )
    hypo = lognormal_days(
        median=14.0,
        sigma=0.5,
        min_days=4,
        max_days=40,
        source="DSM-5 minimum 4 days; capped for >= 4 episodes a year",
    )
    mania = lognormal_days(
        median=21.0,
        sigma=0.5,
        min_days=7,
        max_days=45,
        source="DSM-5 minimum 7 days; capped for >= 4 episodes a year",
    )
    mixed = lognormal_days(
        median=24.0,
        sigma=0.5,
        min_days=7,
        max_days=45,
        source="DSM-5 minimum 7 days; capped for >= 4 episodes a year",
    )
    remission = lognormal_days(
        median=20.0, sigma=0.4, min_days=5, max_days=31, source="capped so onsets are at most 91 days apart"
    )
    types = (
        EpisodeType("remission_after_depression", E, False, remission, pole="depressive"),
        EpisodeType("remission_after_elevation", E, False, remission, pole="elevated"),
        EpisodeType("remission_after_mixed", E, False, remission, pole="mixed"),
        EpisodeType("major_depression", DS, True, dep, pole="depressive"),
        EpisodeType("hypomania", HY, True, hypo, pole="elevated"),
        EpisodeType("mania", MA, True, mania, pole="elevated"),
        EpisodeType("mixed", MX, True, mixed, pole="mixed"),
    )
    remit = 0.6  # 60 % of episodes end in remission, the rest switch polarity directly
    after_dep = {"hypomania": 0.55, "mania": 0.25, "mixed": 0.20}
    after_elev = {"major_depression": 0.8, "mixed": 0.2}
    after_mixed = {"major_depression": 0.6, "hypomania": 0.25, "mania": 0.15}
    keys = [t.key for t in types]

    def row(rem_key: str | None, nxt: Mapping[str, float], rem_prob: float) -> tuple[float, ...]:
        out = dict.fromkeys(keys, 0.0)
        if rem_key is not None:
            out[rem_key] = rem_prob
        for k, w in nxt.items():
            out[k] = (1.0 - rem_prob) * w
        return tuple(out[k] for k in keys)

    transitions = (
        row(None, after_dep, 0.0),
        row(None, after_elev, 0.0),
        row(None, after_mixed, 0.0),
        row("remission_after_depression", after_dep, remit),
        row("remission_after_elevation", after_elev, remit),
        row("remission_after_elevation", after_elev, remit),
        row("remission_after_mixed", after_mixed, remit),
    )
    max_gap = max(t.duration.max_days for t in types if t.state is not E) + remission.max_days
    pattern = Pattern(
        name="rapid_cycling",
        description=(
            "Rapid cycling (DSM-5): at least 4 mood episodes in every 365 days, each separated "
            "from the next by remission or a switch of polarity."
        ),
        is_clinical=True,
        target_shares=RAPID_CYCLING_TARGET,
        sources=("DSM-5", SOLOMON),
        episode_types=types,
        transitions=transitions,
        max_onset_gap_days=max_gap,
        notes=("target shares are those implied by the chosen chain (no published figure)",),
    )
    return pattern


# Implied by _rapid_cycling's chain (tests check that the chain still yields these).
RAPID_CYCLING_TARGET: Mapping[MoodState, float] = _shares(
    euthymic=0.307,
    depressed_severe=0.397,
    hypomanic=0.113,
    manic=0.077,
    mixed=0.106,
)


def _random() -> Pattern:
    return Pattern(
        name="random",
        description=(
            "NOT a clinical pattern: every day's state is an independent uniform draw. Kept "
            "only for compatibility with the replaced system's API; use it for load tests, "
            "never for demos or model training."
        ),
        is_clinical=False,
        target_shares=MappingProxyType(dict.fromkeys(MoodState, 1.0 / len(MoodState))),
        sources=(),
        independent_days=True,
    )


PATTERNS: Mapping[str, Pattern] = MappingProxyType(
    {p.name: p for p in (_stable(), _cycling(), _rapid_cycling(), _depressive(), _manic(), _random())}
)
if tuple(PATTERNS) != PATTERN_NAMES:  # the registry names them for readers without the engine
    raise RuntimeError(f"content.registry.PATTERN_NAMES {PATTERN_NAMES} != the patterns {tuple(PATTERNS)}")


def get_pattern(name: str) -> Pattern:
    """Return the pattern called ``name``; raise :class:`UnknownPatternError` otherwise."""
    try:
        return PATTERNS[name]
    except (KeyError, TypeError):
        raise UnknownPatternError(str(name), PATTERN_NAMES) from None
