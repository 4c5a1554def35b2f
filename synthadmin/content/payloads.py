"""The six JSONB payload objects of a check-in: field registry, generation and fast JSON.

Field values are derived from the day's latents (:mod:`synthadmin.content.latent`) plus a
little independent noise per field, rounded and clipped to the ranges of the app's contract
(``docs/target-schema.md``). They are kept as one integer matrix per
patient (float fields as tenths), never as dicts, until somebody asks for a row.

The JSON path renders a whole block of rows with numpy table look-ups of pre-rendered
fragments (see "serialisation" below), so the per-row cost is a few string concatenations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from synthadmin.content.latent import ANX, DEP, ELEV, ENERGY, LAPSE, SLEEP, SPEED, STRESS, Latents
from synthadmin.content.noise import logistic, standard_normal
from synthadmin.content.registry import FIELDS, PAYLOAD_COLUMNS, FieldSpec
from synthadmin.content.trajectory import Trajectory

__all__ = [
    "FIELDS",
    "PAYLOAD_COLUMNS",
    "FieldSpec",
    "format_json_columns",
    "generate_values",
    "rows_to_payloads",
]

FIELD_INDEX: dict[str, int] = {f.key: i for i, f in enumerate(FIELDS)}
VALUE_DTYPE = np.int16  # storage type of the value matrix; every FieldSpec.high fits
TENTHS_FIELDS: tuple[int, ...] = tuple(i for i, f in enumerate(FIELDS) if f.kind == "tenths")

# A change of medication counts as "recent" for four weeks; clinicians adjust treatment in
# about 60 % of full episodes, 3-20 days after onset; otherwise about one change a year.
RECENT_CHANGE_DAYS = 28
CHANGE_AFTER_FULL_EPISODE = 0.6
BACKGROUND_CHANGES_PER_YEAR = 1.0


# --- how every field depends on the day's latents -------------------------------------
#
# Features are deviations from the euthymic profile (see latent.py): "elev" = elevation - 2.5,
# "up" its positive part, "energy" = energy - 5.5, "low" = depression - 1.5, "anx" =
# anxiety - 3, "speed" = thought speed - 4.5, "racing" its positive part, "sleep" = hours -
# 8.3, "short" = hours below 7, "stress" and "lapse" the slow life-stress and
# adherence-lapse processes. Each linear term below is intercept + sum(coef * feature) +
# noise_sd * N(0, 1); 0/1 fields are Bernoulli(1 / (1 + exp(-term))). Clinical direction in
# the comments (docs/clinical-model.md).
FEATURES: tuple[str, ...] = (
    "elev",
    "up",
    "energy",
    "energy_up",
    "low",
    "low_pos",
    "anx",
    "speed",
    "racing",
    "speed_over6",
    "sleep",
    "short",
    "stress",
    "lapse",
)
_F = {name: i for i, name in enumerate(FEATURES)}

# (name, intercept, {feature: coefficient}, noise_sd). Names without a payload key are
# hidden quantities (logits "p_*", rates "rate_*", minutes "*_minutes").
LINEAR_TERMS: tuple[tuple[str, float, dict[str, float], float], ...] = (
    # sleep: mania shortens sleep and the felt need for it; depression lengthens both.
    ("hoursSlept", 8.3, {"sleep": 1.0}, 0.3),
    ("perceivedSleepNeed", 8.0, {"sleep": 0.5, "energy": -0.35, "low": 0.2}, 0.4),
    ("sleepQuality", 7.0, {"low": -0.45, "anx": -0.25, "short": -0.6, "up": 0.15}, 0.8),
    ("sleepHygiene", 6.8, {"up": -0.35, "low_pos": -0.3, "anx": -0.2}, 0.8),
    ("nap_minutes", 25.0, {"low_pos": 6.0, "short": 10.0}, 10.0),
    # mood: read straight off the latents, plus rating noise.
    ("energyLevel", 5.5, {"energy": 1.0}, 0.5),
    ("depressedMood", 1.5, {"low": 1.0}, 0.5),
    ("anxietyStress", 3.0, {"anx": 1.0, "stress": 0.2}, 0.5),
    ("elevation", 2.5, {"elev": 1.0}, 0.5),
    ("activation", 5.05, {"energy": 0.55, "speed": 0.45, "anx": 0.3}, 0.5),
    ("motivationToStart", 6.2, {"low": -0.6, "energy": 0.35}, 0.6),
    # symptoms: racing thoughts in mania and mixed states, rumination in depression;
    # memoryConcentration is an ability (higher = better), impaired at both poles.
    ("thoughtSpeed", 4.5, {"speed": 1.0}, 0.5),
    ("distractibility", 3.0, {"racing": 1.0, "anx": 0.3, "low": 0.3}, 0.6),
    ("memoryConcentration", 7.2, {"low_pos": -0.5, "racing": -0.45, "anx": -0.2}, 0.6),
    ("ruminationAxis", 2.0, {"low": 0.75, "anx": 0.3}, 0.6),
    # routine and risk: withdrawal in depression, sociability and risk-taking in mania.
    ("socialConnection", 6.0, {"elev": 0.45, "low": -0.55}, 0.7),
    ("exercise_minutes", 30.0, {"energy": 4.0}, 12.0),
    ("exerciseFeeling", 6.5, {"elev": 0.3, "low": -0.4}, 1.0),
    # appetite and impulses: appetite falls in mania; its change in depression is per patient.
    ("generalAppetite", 5.5, {"up": -0.3}, 0.8),
    ("compulsionIntensity", 4.0, {"up": 0.35, "anx": 0.25}, 1.3),
    ("libido", 5.0, {"elev": 0.55, "low": -0.35}, 0.8),
    # logits of the 0/1 fields (and hidden events).
    ("p_hasNapped", -1.7, {"low": 0.45, "energy": -0.3, "short": 0.3}, 0.0),
    ("p_socialRhythmEvent", -2.2, {"up": 0.35, "stress": 0.6}, 0.0),
    ("p_exercised", 0.0, {"energy": 0.3, "low": -0.25}, 0.0),
    ("p_sexualRiskBehavior", 0.0, {"up": 0.45, "energy_up": 0.3}, 0.0),
    ("p_dietTracking", 0.0, {"low": -0.25, "up": -0.2}, 0.0),
    ("p_skipMeals", -2.4, {"low": 0.25, "up": 0.3, "anx": 0.2}, 0.0),
    ("p_compulsionEpisode", 0.0, {"up": 0.35, "anx": 0.25}, 0.0),
    ("p_substanceUsage", 0.0, {"up": 0.35, "low": 0.15, "anx": 0.1}, 0.0),
    # adherence drops most in mania (insight falls); lapses come in runs (slow process).
    ("p_medicationAdherence", 0.0, {"up": -0.5, "low_pos": -0.12, "lapse": -1.2}, 0.0),
    ("p_medicationTiming", 1.8, {"up": -0.3, "low_pos": -0.15}, 0.0),
    ("p_contextualStressors", -1.9, {"stress": 1.0, "anx": 0.2, "low": 0.15}, 0.0),
    # mania over-plans and finishes less of it; depression plans little and finishes less.
    ("p_taskCompleted", 1.1, {"energy": 0.2, "low": -0.28, "speed_over6": -0.5}, 0.0),
    ("rate_tasks", 0.0, {"energy": 0.12, "low": -0.06}, 0.0),  # log-rate
    ("rate_caffeine", 0.0, {"energy": 0.08, "low_pos": 0.05}, 0.0),  # log-rate
    ("rate_units", 1.8, {"up": 0.35, "low_pos": 0.2}, 0.0),
)
_T = {name: i for i, (name, *_rest) in enumerate(LINEAR_TERMS)}
_INTERCEPT = np.array([t[1] for t in LINEAR_TERMS])
_NOISY = np.array([i for i, t in enumerate(LINEAR_TERMS) if t[3] > 0])
_NOISE_SD = np.array([LINEAR_TERMS[i][3] for i in _NOISY])[:, None]
# The linear terms are one matrix product. Both operands hold integers (coefficients in
# thousandths, features in units of 2**-20), every partial sum stays far below 2**53, so the
# float product is exact whatever order or FMA the BLAS of a machine uses: same seed, same
# bits, everywhere.
_COEF_SCALE = 1000.0
_FEATURE_SCALE = float(1 << 20)
_COEF = np.array(
    [[round(t[2].get(name, 0.0) * _COEF_SCALE) for name in FEATURES] for t in LINEAR_TERMS],
    dtype=float,
)
_UNSCALE = 1.0 / (_COEF_SCALE * _FEATURE_SCALE)
# Per-patient trait added to a term's intercept.
_TRAIT_TERMS: tuple[tuple[str, str], ...] = (
    ("sleepHygiene", "hygiene_offset"),
    ("socialConnection", "social_offset"),
    ("p_exercised", "exercise_logit"),
    ("p_sexualRiskBehavior", "sexual_risk_logit"),
    ("p_dietTracking", "diet_logit"),
    ("p_compulsionEpisode", "compulsion_logit"),
    ("p_substanceUsage", "substance_logit"),
    ("p_medicationAdherence", "adherence_logit"),
)
_SCORE_KEYS = tuple(f.key for f in FIELDS if f.kind == "score")
_SCORE_TERMS = np.array([_T[k] for k in _SCORE_KEYS])
_SCORE_COLUMNS = np.array([FIELD_INDEX[k] for k in _SCORE_KEYS])
_PROB_NAMES = tuple(t[0] for t in LINEAR_TERMS if t[0].startswith("p_"))
_PROB_TERMS = np.array([_T[k] for k in _PROB_NAMES])
_P = {name[2:]: i for i, name in enumerate(_PROB_NAMES)}


def _features(t: np.ndarray) -> np.ndarray:
    """(len(FEATURES), n) deviations from the euthymic profile; ``t`` is (dims, n) latents."""
    f = np.empty((len(FEATURES), t.shape[1]))
    f[_F["elev"]] = t[ELEV] - 2.5
    f[_F["energy"]] = t[ENERGY] - 5.5
    f[_F["low"]] = t[DEP] - 1.5
    f[_F["anx"]] = t[ANX] - 3.0
    f[_F["speed"]] = t[SPEED] - 4.5
    f[_F["sleep"]] = t[SLEEP] - 8.3
    f[_F["stress"]] = t[STRESS]
    f[_F["lapse"]] = t[LAPSE]
    f[_F["up"]] = np.maximum(f[_F["elev"]], 0.0)
    f[_F["energy_up"]] = np.maximum(f[_F["energy"]], 0.0)
    f[_F["low_pos"]] = np.maximum(f[_F["low"]], 0.0)
    f[_F["racing"]] = np.maximum(f[_F["speed"]], 0.0)
    f[_F["speed_over6"]] = np.maximum(f[_F["speed"]] - 1.5, 0.0)
    f[_F["short"]] = np.maximum(-1.3 - f[_F["sleep"]], 0.0)
    return f


def _medication_change(traj: Trajectory, rng: np.random.Generator) -> np.ndarray:
    """Daily 0/1: a medication change happened within the last four weeks."""
    days = traj.days
    # Look back one window's worth of "recent" before day 0 so the flag is right on day 0.
    span = days + RECENT_CHANGE_DAYS
    changes: list[int] = []
    u = rng.random((len(traj.starts), 2)).tolist()
    for (p, lag), start, full in zip(u, traj.starts.tolist(), traj.full.tolist(), strict=True):
        if full and p < CHANGE_AFTER_FULL_EPISODE:
            changes.append(start + 3 + int(lag * 18))
    n_background = int(rng.poisson(BACKGROUND_CHANGES_PER_YEAR * span / 365.0))
    changes.extend((rng.integers(0, span, size=n_background) - RECENT_CHANGE_DAYS).tolist())
    marks = np.zeros(days + 1, dtype=np.int64)
    for c in changes:
        lo, hi = max(c, 0), min(c + RECENT_CHANGE_DAYS, days)
        if lo < hi:
            marks[lo] += 1
            marks[hi] -= 1
    return (np.cumsum(marks[:days]) > 0).astype(np.int64)


def _count(mean: np.ndarray, z: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Rounded normal with the given mean and variance (Poisson-like), clipped to [lo, hi]."""
    value = np.rint(mean + np.sqrt(mean) * z)
    clipped: np.ndarray = np.minimum(np.maximum(value, lo), hi).astype(np.int64)
    return clipped


def _five_minutes(minutes: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return 5 * np.minimum(np.maximum(np.rint(minutes / 5.0), lo), hi).astype(np.int64)


def generate_values(
    traj: Trajectory, latents: Latents, checkin_days: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """All payload fields for the given check-in days, as an (n, len(FIELDS)) int16 matrix.

    Floats are stored as integer tenths. Within each row the contract's consistency rules
    hold: tasksCompleted <= tasksPlanned, compulsionIntensity == 0 without an episode,
    substanceUnits == 0 without usage, nappingDurationMin == 0 without a nap, and
    exerciseFeeling == 0 on days without exercise (nothing to rate).
    """
    med_change_daily = _medication_change(traj, rng)
    n = len(checkin_days)
    tr = latents.traits
    feats = _features(latents.values[:, checkin_days])

    intercept = _INTERCEPT.copy()
    for term, trait in _TRAIT_TERMS:
        intercept[_T[term]] += getattr(tr, trait)
    # Features beyond +/-4000 cannot occur (latents live on 0-10 and 0-24 h scales); the
    # bound only protects the exactness argument above.
    quantised = np.rint(np.minimum(np.maximum(feats, -4000.0), 4000.0) * _FEATURE_SCALE)
    lin = (_COEF @ quantised) * _UNSCALE + intercept[:, None]
    lin[_T["generalAppetite"]] += 0.3 * tr.appetite_direction * feats[_F["low_pos"]]
    normals = standard_normal(rng, (len(_NOISY) + 4, n))
    lin[_NOISY] += _NOISE_SD * normals[: len(_NOISY)]
    count_noise = normals[len(_NOISY) :]
    # Bernoulli(sigmoid(logit)) as "logit + logistic noise > 0": no exp needed.
    happened = lin[_PROB_TERMS] + logistic(rng, (len(_PROB_TERMS), n)) > 0.0
    prob = _P

    out = np.empty((len(FIELDS), n), dtype=np.int64)
    col = FIELD_INDEX
    out[_SCORE_COLUMNS] = np.minimum(np.maximum(np.rint(lin[_SCORE_TERMS]), 0.0), 10.0)

    # sleep_data
    hours = np.minimum(np.maximum(lin[_T["hoursSlept"]], 2.0), FIELDS[col["hoursSlept"]].high)
    out[col["hoursSlept"]] = np.rint(hours * 10.0)
    need = np.minimum(np.maximum(lin[_T["perceivedSleepNeed"]], 3.0), FIELDS[col["perceivedSleepNeed"]].high)
    out[col["perceivedSleepNeed"]] = np.rint(need * 10.0)
    napped = happened[prob["hasNapped"]]
    out[col["hasNapped"]] = napped
    out[col["nappingDurationMin"]] = np.where(napped, _five_minutes(lin[_T["nap_minutes"]], 1, 36), 0)

    # risk_routine_data
    out[col["socialRhythmEvent"]] = happened[prob["socialRhythmEvent"]]
    exercised = happened[prob["exercised"]]
    out[col["exerciseDurationMin"]] = np.where(
        exercised, _five_minutes(lin[_T["exercise_minutes"]], 2, 36), 0
    )
    out[col["exerciseFeeling"]] *= exercised
    out[col["sexualRiskBehavior"]] = happened[prob["sexualRiskBehavior"]]
    # Counts use a rounded normal approximation (mean and variance of a Poisson or binomial):
    # an order of magnitude cheaper than numpy's exact samplers, and as plausible here.
    tasks_mean = tr.tasks_rate * np.exp(lin[_T["rate_tasks"]])
    planned = _count(tasks_mean, count_noise[0], 0, int(FIELDS[col["tasksPlanned"]].high))
    finish = 1.0 / (1.0 + np.exp(-lin[_T["p_taskCompleted"]]))
    done_mean = planned * finish
    completed = np.rint(done_mean + np.sqrt(done_mean * (1.0 - finish)) * count_noise[1])
    out[col["tasksPlanned"]] = planned
    out[col["tasksCompleted"]] = np.minimum(np.maximum(completed, 0), planned)

    # appetite_impulse_data
    out[col["dietTracking"]] = happened[prob["dietTracking"]]
    out[col["skipMeals"]] = happened[prob["skipMeals"]]
    compulsion = happened[prob["compulsionEpisode"]]
    out[col["compulsionEpisode"]] = compulsion
    # An episode has some intensity (>= 1); none means 0.
    out[col["compulsionIntensity"]] = np.maximum(out[col["compulsionIntensity"]], 1) * compulsion
    used = happened[prob["substanceUsage"]]
    units = _count(lin[_T["rate_units"]], count_noise[2], 1, int(FIELDS[col["substanceUnits"]].high))
    out[col["substanceUsage"]] = used
    out[col["substanceUnits"]] = units * used
    caffeine_mean = tr.caffeine_rate * np.exp(lin[_T["rate_caffeine"]])
    out[col["caffeineDoses"]] = _count(
        caffeine_mean, count_noise[3], 0, int(FIELDS[col["caffeineDoses"]].high)
    )

    # meds_context_data
    adherent = happened[prob["medicationAdherence"]]
    out[col["medicationAdherence"]] = adherent
    out[col["medicationTiming"]] = adherent & happened[prob["medicationTiming"]]
    out[col["medicationChangeRecent"]] = med_change_daily[checkin_days]
    out[col["contextualStressors"]] = happened[prob["contextualStressors"]]
    # int16 holds every value (the largest is 180) at a quarter of the memory of int64.
    return np.ascontiguousarray(out.T, dtype=VALUE_DTYPE)


# --- serialisation ---------------------------------------------------------------------
#
# Consecutive fields of a column are grouped into chunks of at most _MAX_CHUNK value
# combinations; every combination is pre-rendered once (per process) as a JSON fragment such
# as '{"hoursSlept":7.5,"sleepQuality":6'. A row's column string is then a few table
# look-ups and concatenations done by numpy on whole blocks: no per-value formatting.

_MAX_CHUNK = 16384
_BLOCK_ROWS = 1024  # rows rendered per block: bounds memory for very long histories


def _render(spec: FieldSpec, value: int) -> str:
    # json.dumps of the value the dict path returns (tenths / 10 is a float there).
    return json.dumps(value / 10 if spec.kind == "tenths" else value)


def _cardinality(spec: FieldSpec) -> int:
    return round(spec.high * 10) + 1 if spec.kind == "tenths" else int(spec.high) + 1


@dataclass(frozen=True, eq=False)
class _JsonTables:
    weights: np.ndarray  # (len(FIELDS), n_chunks) integer-valued: chunk index = values @ weights
    tables: tuple[np.ndarray, ...]  # per chunk: object array of fragments
    columns: tuple[tuple[int, ...], ...]  # per payload column: its chunk numbers


@cache
def _json_tables() -> _JsonTables:
    chunks: list[list[int]] = []
    columns: list[tuple[int, ...]] = []
    for column in PAYLOAD_COLUMNS:
        members = [i for i, f in enumerate(FIELDS) if f.column == column]
        first_chunk = len(chunks)
        current: list[int] = []
        size = 1
        for i in members:
            card = _cardinality(FIELDS[i])
            if current and size * card > _MAX_CHUNK:
                chunks.append(current)
                current, size = [], 1
            current.append(i)
            size *= card
        chunks.append(current)
        columns.append(tuple(range(first_chunk, len(chunks))))
    weights = np.zeros((len(FIELDS), len(chunks)))
    tables = []
    for c, members in enumerate(chunks):
        radix = 1
        for i in reversed(members):
            weights[i, c] = radix
            radix *= _cardinality(FIELDS[i])
        table = None
        for i in members:
            spec = FIELDS[i]
            lead = "," if table is not None else ""
            frags = np.array(
                [f'{lead}"{spec.key}":{_render(spec, v)}' for v in range(_cardinality(spec))],
                dtype=object,
            )
            table = frags if table is None else (table[:, None] + frags[None, :]).ravel()
        tables.append(table)
    done: list[np.ndarray] = [t for t in tables if t is not None]
    for chunk_ids in columns:
        done[chunk_ids[0]] = "{" + done[chunk_ids[0]]
        done[chunk_ids[-1]] = done[chunk_ids[-1]] + "}"
        for c in chunk_ids[1:]:
            done[c] = "," + done[c]
    return _JsonTables(weights, tuple(done), tuple(columns))


def format_json_columns(values: np.ndarray) -> Iterator[list[list[str]]]:
    """Compact JSON of every row, per block of rows: six lists of strings (one per column).

    The strings equal ``json.dumps(payload[column], separators=(",", ":"))`` of the dicts
    :func:`rows_to_payloads` returns for the same rows.
    """
    jt = _json_tables()
    for lo in range(0, len(values), _BLOCK_ROWS):
        # Integer-valued floats: the product is exact (all sums < 2**53) and uses BLAS.
        index = (values[lo : lo + _BLOCK_ROWS].astype(float) @ jt.weights).astype(np.intp)
        out: list[list[str]] = []
        for chunk_ids in jt.columns:
            text = jt.tables[chunk_ids[0]].take(index[:, chunk_ids[0]])
            for c in chunk_ids[1:]:
                text = text + jt.tables[c].take(index[:, c])
            out.append(text.tolist())
        yield out


_COLUMN_KEYS: tuple[tuple[str, tuple[str, ...], int, int], ...] = tuple(
    (
        c,
        tuple(f.key for f in FIELDS if f.column == c),
        min(i for i, f in enumerate(FIELDS) if f.column == c),
        max(i for i, f in enumerate(FIELDS) if f.column == c) + 1,
    )
    for c in PAYLOAD_COLUMNS
)


def rows_to_payloads(values: np.ndarray) -> Iterator[dict[str, dict[str, int | float]]]:
    """Payload dicts (column -> key -> value) per row, Python ints and floats only."""
    per_column: list[list[list[int | float]]] = []
    for _column, _keys, lo, hi in _COLUMN_KEYS:
        block = values[:, lo:hi]
        tenths = [i - lo for i in TENTHS_FIELDS if lo <= i < hi]
        if tenths:
            # Object array: assigning the float quotient stores Python floats (t / 10 is the
            # same double as the Python division), the other cells stay Python ints.
            mixed = block.astype(object)
            mixed[:, tenths] = block[:, tenths] / 10
            per_column.append(mixed.tolist())
        else:
            per_column.append(block.tolist())
    (c0, k0, *_), (c1, k1, *_), (c2, k2, *_), (c3, k3, *_), (c4, k4, *_), (c5, k5, *_) = _COLUMN_KEYS
    # Lengths match by construction; strict=False because the check costs 40 % here.
    for r0, r1, r2, r3, r4, r5 in zip(*per_column, strict=False):
        yield {
            c0: dict(zip(k0, r0, strict=False)),
            c1: dict(zip(k1, r1, strict=False)),
            c2: dict(zip(k2, r2, strict=False)),
            c3: dict(zip(k3, r3, strict=False)),
            c4: dict(zip(k4, r4, strict=False)),
            c5: dict(zip(k5, r5, strict=False)),
        }
