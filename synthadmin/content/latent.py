"""Daily latent processes: the smooth "true" mood and energy behind every check-in.

Each day has a profile (where the current state pulls the patient) plus AR(1) noise, so
consecutive days resemble each other (Ortiz et al. 2021: daily mood and energy are positively
autocorrelated) without any fixed period (Gottschalk 1995: broadband spectra). Profiles ramp
linearly across episode boundaries (prodrome / recovery) instead of jumping.

Only elementwise IEEE arithmetic, cumulative sums and linear interpolation are used here (no
BLAS, no ``pow``); the noise comes from the quantile tables of :mod:`synthadmin.content.noise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthadmin.content.noise import standard_normal
from synthadmin.content.states import STATE_CODE, MoodState
from synthadmin.content.trajectory import Trajectory

__all__ = [
    "LATENT_DIMS",
    "PROFILE",
    "Latents",
    "PatientTraits",
    "ar1",
    "daily_latents",
    "draw_traits",
]

# Latent dimensions, in native units of the payload scales (0-10 ratings, hours of sleep).
ELEV, ENERGY, DEP, ANX, SLEEP, SPEED, STRESS, LAPSE = range(8)
LATENT_DIMS: tuple[str, ...] = (
    "elevation",
    "energy",
    "depression",
    "anxiety",
    "sleep_hours",
    "thought_speed",
    "life_stress",
    "adherence_lapse",
)

# Where each state pulls the first six latents. Euthymic sleep is 8.3 h so that about 85 % of
# euthymic nights reach 7.5 h (Bauer 2009: sleep-plus-bed-rest >= 8 h in 89 % of patients);
# mania cuts sleep hardest (Leibenluft 1996), severe depression lengthens it (hypersomnia);
# mixed states combine high depression with high activation, speed and anxiety.
# fmt: off
_PROFILE_ROWS: dict[MoodState, tuple[float, ...]] = {
    #                            elev energy dep  anx  sleep speed
    MoodState.EUTHYMIC:         (2.5, 5.5,  1.5, 3.0, 8.3, 4.5),
    MoodState.DEPRESSED_MILD:   (1.6, 3.8,  4.5, 4.5, 8.8, 3.8),
    MoodState.DEPRESSED_SEVERE: (0.8, 2.0,  7.6, 6.0, 9.4, 2.8),
    MoodState.HYPOMANIC:        (6.0, 7.6,  1.2, 3.6, 6.4, 7.0),
    MoodState.MANIC:            (8.4, 8.9,  1.0, 5.0, 4.4, 8.8),
    MoodState.MIXED:            (5.2, 7.0,  6.8, 7.8, 5.6, 7.8),
}
# fmt: on
PROFILE: np.ndarray = np.array(
    [(*_PROFILE_ROWS[s], 0.0, 0.0) for s in sorted(_PROFILE_ROWS, key=STATE_CODE.__getitem__)]
)
PROFILE.setflags(write=False)
PROFILE_T: np.ndarray = np.ascontiguousarray(PROFILE.T)
PROFILE_T.setflags(write=False)
_EUTHYMIC = PROFILE[STATE_CODE[MoodState.EUTHYMIC]]
_PROFILED_DIMS = 6  # life stress and adherence lapses have no state profile

# AR(1) persistence per dimension: mood, energy and speed 0.65-0.75 (day-to-day carry-over),
# sleep less persistent (0.5), life stress and adherence lapses slow (weeks).
PHI: np.ndarray = np.array([0.7, 0.7, 0.75, 0.65, 0.5, 0.65, 0.9, 0.85])
# Standard deviation of the AR part, in the dimension's units.
SCALE: np.ndarray = np.array([0.9, 0.9, 0.9, 0.9, 0.55, 0.9, 1.0, 1.0])

# Same-day coupling of the innovations (lower-triangular mixing of independent normals):
# energy and speed move with elevation, depression against it, anxiety with depression,
# sleep against elevation (short sleep accompanies elevated days).
_MIX_ROWS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (0.6, 0.8),
    (-0.35, 0.0, 0.94),
    (0.0, 0.0, 0.5, 0.87),
    (-0.4, 0.0, 0.0, 0.0, 0.92),
    (0.5, 0.4, 0.0, 0.0, 0.0, 0.77),
    (0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.95),
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
)
_MIX: tuple[tuple[tuple[int, float], ...], ...] = tuple(
    tuple((j, c / math.sqrt(math.fsum(x * x for x in row))) for j, c in enumerate(row) if c)
    for row in _MIX_ROWS
)

_INNOVATION_SCALE = np.sqrt(1.0 - PHI * PHI)


def _block_days(phi: np.ndarray) -> int:
    # phi**-block must stay far below the float64 maximum (1e308); 1e150 leaves room for the
    # innovations and the cumulative sum.
    return max(1, min(1024, int(150.0 / -math.log10(float(phi.min())))))


def _powers(phi: np.ndarray, block: int) -> np.ndarray:
    # Repeated multiplication (exactly rounded everywhere), not pow(), for bit-identical runs.
    return np.cumprod(np.hstack([np.ones((len(phi), 1)), np.tile(phi[:, None], block - 1)]), axis=1)


_BLOCK = _block_days(PHI)
_POW = _powers(PHI, _BLOCK)
_INV_POW = 1.0 / _POW


def ar1(innovations: np.ndarray, phi: np.ndarray = PHI) -> np.ndarray:
    """Unit-variance AR(1) series per row: ``x[t] = phi x[t-1] + sqrt(1 - phi^2) e[t]``.

    ``innovations`` is (dims, days) of independent standard normals; each series starts in
    its stationary distribution. Closed form with cumulative sums
    (``x[t] = phi^t * sum_s phi^-s * step[s]``) over blocks of up to 1024 days, so a year
    costs a handful of numpy calls instead of a Python loop per day.
    """
    if not np.all((phi > 0.0) & (phi < 1.0)):
        raise ValueError("AR(1) coefficients must lie strictly between 0 and 1")
    if phi is PHI:
        block, pow_, inv_pow, scale = _BLOCK, _POW, _INV_POW, _INNOVATION_SCALE
    else:
        block = _block_days(phi)
        pow_ = _powers(phi, block)
        inv_pow, scale = 1.0 / pow_, np.sqrt(1.0 - phi * phi)
    steps = innovations * scale[:, None]
    n = steps.shape[1]
    if n:
        steps[:, 0] = innovations[:, 0]
    out = np.empty_like(steps)
    carry = None
    for b in range(0, n, block):
        chunk = steps[:, b : b + block]
        m = chunk.shape[1]
        local = np.cumsum(chunk * inv_pow[:, :m], axis=1) * pow_[:, :m]
        if carry is not None:
            local += carry[:, None] * (pow_[:, :m] * phi[:, None])
        out[:, b : b + m] = local
        carry = local[:, -1]
    result: np.ndarray = out
    return result


@dataclass(frozen=True)
class PatientTraits:
    """Stable per-patient differences so that two patients in one state still differ."""

    sleep_offset: float
    anxiety_offset: float
    hygiene_offset: float
    social_offset: float
    appetite_direction: float  # -1: appetite falls in depression, +1: rises (atypical)
    diet_logit: float
    exercise_logit: float
    substance_logit: float
    sexual_risk_logit: float
    compulsion_logit: float
    adherence_logit: float
    caffeine_rate: float
    tasks_rate: float


def draw_traits(rng: np.random.Generator) -> PatientTraits:
    """Draw one patient's traits."""
    n = rng.standard_normal(12).tolist()
    u = rng.random(3).tolist()
    return PatientTraits(
        sleep_offset=0.35 * n[0],
        anxiety_offset=0.6 * n[1],
        hygiene_offset=0.7 * n[2],
        social_offset=0.7 * n[3],
        appetite_direction=1.0 if u[0] < 0.35 else -1.0,
        diet_logit=-0.4 + 1.2 * n[4],
        exercise_logit=-0.2 + 0.8 * n[5],
        substance_logit=-2.8 + 0.8 * n[6],
        sexual_risk_logit=-4.6 + 0.5 * n[7],
        compulsion_logit=-3.5 + 0.6 * n[8],
        adherence_logit=2.6 + 0.5 * n[9],
        caffeine_rate=0.8 + 1.8 * u[1],
        tasks_rate=3.0 + 4.0 * u[2],
    )


@dataclass(frozen=True, eq=False)
class Latents:
    """Daily latent values, shape (len(LATENT_DIMS), days), and the patient's traits."""

    values: np.ndarray
    traits: PatientTraits


def _daily_profile(traj: Trajectory) -> np.ndarray:
    """Per-day profile (dims, days): plateaus at each episode's profile, linear ramps between."""
    days = traj.days
    if traj.type_index.size and traj.type_index[0] < 0:
        # Independent days: the state's profile that very day, nothing carried over.
        return PROFILE_T[:, traj.daily_codes]
    targets = PROFILE[traj.state_codes]
    episode_profiles = _EUTHYMIC + traj.severity[:, None] * (targets - _EUTHYMIC)
    left = traj.starts + traj.ramp_in
    right = traj.starts + traj.lengths - 1 - traj.ramp_out
    xp = np.empty(2 * len(left))
    xp[0::2] = left
    xp[1::2] = right
    fp = np.repeat(episode_profiles, 2, axis=0).T
    x = np.arange(days, dtype=float)
    out = np.zeros((PROFILE.shape[1], days))
    for d in range(_PROFILED_DIMS):
        out[d] = np.interp(x, xp, fp[d])
    return out


def daily_latents(
    traj: Trajectory,
    rng: np.random.Generator,
    *,
    independent: bool,
    traits: PatientTraits | None = None,
) -> Latents:
    """Profile plus correlated AR(1) noise for every day of the trajectory's window.

    ``independent`` (the random pattern) drops the autocorrelation: every day is a fresh draw.
    ``traits`` (a continuation keeps the patient's own) are drawn from ``rng`` when None.
    """
    if traits is None:
        traits = draw_traits(rng)
    days = traj.days
    normals = standard_normal(rng, (len(PHI), days))
    mixed = np.empty_like(normals)
    for i, row in enumerate(_MIX):
        j0, c0 = row[0]
        acc = normals[j0] * c0
        for j, c in row[1:]:
            acc += normals[j] * c
        mixed[i] = acc
    noise = mixed if independent else ar1(mixed)
    values = _daily_profile(traj) + noise * SCALE[:, None]
    values[SLEEP] += traits.sleep_offset
    values[ANX] += traits.anxiety_offset
    return Latents(values=values, traits=traits)
