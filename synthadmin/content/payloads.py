"""The six JSONB payload objects of a check-in: field registry, generation and fast JSON.

Field values are derived from the day's latents (:mod:`synthadmin.content.latent`) plus a
little independent noise per field, rounded and clipped to the ranges of the app's contract
(``/work/shared/reference/target-schema.md``). They are kept as one integer matrix per
patient (float fields as tenths), never as dicts, until somebody asks for a row.

The JSON path formats a whole block of rows with a single ``%`` operation on a repeated
template and splits the result, so the per-row cost is string formatting only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from synthadmin.content.latent import ANX, DEP, ELEV, ENERGY, LAPSE, SLEEP, SPEED, STRESS, Latents
from synthadmin.content.trajectory import Trajectory

__all__ = [
    "FIELDS",
    "PAYLOAD_COLUMNS",
    "FieldSpec",
    "format_json_rows",
    "generate_values",
    "rows_to_payloads",
]

FieldKind = Literal["tenths", "score", "flag", "count"]

PAYLOAD_COLUMNS: tuple[str, ...] = (
    "sleep_data",
    "mood_data",
    "symptoms_data",
    "risk_routine_data",
    "appetite_impulse_data",
    "meds_context_data",
)


@dataclass(frozen=True)
class FieldSpec:
    """One key of one JSONB column.

    ``kind``: "tenths" is a float with one decimal (stored as integer tenths), "score" an
    integer 0-10, "flag" an integer 0/1, "count" a non-negative integer (``high`` is the
    generator's own cap, the contract has none).
    """

    column: str
    key: str
    kind: FieldKind
    low: float
    high: float


def _f(column: str, key: str, kind: FieldKind, high: float | None = None) -> FieldSpec:
    default_high = {"tenths": 24.0, "score": 10, "flag": 1}.get(kind)
    top = high if high is not None else default_high
    if top is None:
        raise ValueError(f"{key}: a count needs the generator's cap")
    return FieldSpec(column, key, kind, 0, top)


# Contract order; the JSON key order follows it.
FIELDS: tuple[FieldSpec, ...] = (
    _f("sleep_data", "hoursSlept", "tenths"),
    _f("sleep_data", "sleepQuality", "score"),
    _f("sleep_data", "perceivedSleepNeed", "tenths"),
    _f("sleep_data", "sleepHygiene", "score"),
    _f("sleep_data", "hasNapped", "flag"),
    _f("sleep_data", "nappingDurationMin", "count", 180),
    _f("mood_data", "energyLevel", "score"),
    _f("mood_data", "depressedMood", "score"),
    _f("mood_data", "anxietyStress", "score"),
    _f("mood_data", "elevation", "score"),
    _f("mood_data", "activation", "score"),
    _f("mood_data", "motivationToStart", "score"),
    _f("symptoms_data", "thoughtSpeed", "score"),
    _f("symptoms_data", "distractibility", "score"),
    _f("symptoms_data", "memoryConcentration", "score"),
    _f("symptoms_data", "ruminationAxis", "score"),
    _f("risk_routine_data", "socialConnection", "score"),
    _f("risk_routine_data", "socialRhythmEvent", "flag"),
    _f("risk_routine_data", "exerciseDurationMin", "count", 180),
    _f("risk_routine_data", "exerciseFeeling", "score"),
    _f("risk_routine_data", "sexualRiskBehavior", "flag"),
    _f("risk_routine_data", "tasksPlanned", "count", 25),
    _f("risk_routine_data", "tasksCompleted", "count", 25),
    _f("appetite_impulse_data", "generalAppetite", "score"),
    _f("appetite_impulse_data", "dietTracking", "flag"),
    _f("appetite_impulse_data", "skipMeals", "flag"),
    _f("appetite_impulse_data", "compulsionEpisode", "flag"),
    _f("appetite_impulse_data", "compulsionIntensity", "score"),
    _f("appetite_impulse_data", "substanceUsage", "flag"),
    _f("appetite_impulse_data", "substanceUnits", "count", 15),
    _f("appetite_impulse_data", "caffeineDoses", "count", 12),
    _f("appetite_impulse_data", "libido", "score"),
    _f("meds_context_data", "medicationAdherence", "flag"),
    _f("meds_context_data", "medicationTiming", "flag"),
    _f("meds_context_data", "medicationChangeRecent", "flag"),
    _f("meds_context_data", "contextualStressors", "flag"),
)
FIELD_INDEX: dict[str, int] = {f.key: i for i, f in enumerate(FIELDS)}
TENTHS_FIELDS: tuple[int, ...] = tuple(i for i, f in enumerate(FIELDS) if f.kind == "tenths")

# A change of medication counts as "recent" for four weeks; clinicians adjust treatment in
# about 60 % of full episodes, 3-20 days after onset; otherwise about one change a year.
RECENT_CHANGE_DAYS = 28
CHANGE_AFTER_FULL_EPISODE = 0.6
BACKGROUND_CHANGES_PER_YEAR = 1.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _score(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 10).astype(np.int64)


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


def generate_values(
    traj: Trajectory, latents: Latents, checkin_days: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """All payload fields for the given check-in days, as an (n, len(FIELDS)) int64 matrix.

    Floats are stored as integer tenths. Within each row the contract's consistency rules
    hold: tasksCompleted <= tasksPlanned, compulsionIntensity == 0 without an episode,
    substanceUnits == 0 without usage, nappingDurationMin == 0 without a nap, and
    exerciseFeeling == 0 on days without exercise (nothing to rate).
    """
    med_change_daily = _medication_change(traj, rng)
    n = len(checkin_days)
    lat = latents.values[checkin_days]
    tr = latents.traits
    elev, energy, dep, anx = lat[:, ELEV], lat[:, ENERGY], lat[:, DEP], lat[:, ANX]
    sleep, speed, stress, lapse = lat[:, SLEEP], lat[:, SPEED], lat[:, STRESS], lat[:, LAPSE]
    # Deviations from the euthymic profile drive most fields.
    up = np.maximum(elev - 2.5, 0.0)
    low = dep - 1.5
    low_pos = np.maximum(low, 0.0)
    racing = np.maximum(speed - 4.5, 0.0)
    noise = rng.standard_normal((n, 21))
    uni = rng.random((n, 11))
    out = np.empty((n, len(FIELDS)), dtype=np.int64)
    col = FIELD_INDEX

    # --- sleep_data -------------------------------------------------------------------
    hours = np.clip(sleep + 0.3 * noise[:, 0], 2.0, 14.0)
    out[:, col["hoursSlept"]] = np.rint(hours * 10.0)
    # Mania lowers the need for sleep along with the sleep itself; depression raises it.
    need = 8.0 + 0.5 * (sleep - 8.3) - 0.35 * (energy - 5.5) + 0.2 * low + 0.4 * noise[:, 1]
    out[:, col["perceivedSleepNeed"]] = np.rint(np.clip(need, 3.0, 14.0) * 10.0)
    quality = (
        7.0 - 0.45 * low - 0.25 * (anx - 3.0) - 0.6 * np.maximum(7.0 - sleep, 0.0)
        + 0.15 * up + 0.8 * noise[:, 2]
    )
    out[:, col["sleepQuality"]] = _score(quality)
    hygiene = (
        6.8 + tr.hygiene_offset - 0.35 * up - 0.3 * low_pos - 0.2 * (anx - 3.0)
        + 0.8 * noise[:, 3]
    )
    out[:, col["sleepHygiene"]] = _score(hygiene)
    napped = uni[:, 0] < _sigmoid(
        -1.7 + 0.45 * low - 0.3 * (energy - 5.5) + 0.3 * np.maximum(7.0 - sleep, 0.0)
    )
    nap_minutes = 25.0 + 6.0 * low_pos + 10.0 * np.maximum(7.0 - sleep, 0.0) + 10 * noise[:, 4]
    out[:, col["hasNapped"]] = napped
    out[:, col["nappingDurationMin"]] = np.where(
        napped, 5 * np.clip(np.rint(nap_minutes / 5.0), 1, 36), 0
    )

    # --- mood_data --------------------------------------------------------------------
    out[:, col["energyLevel"]] = _score(energy + 0.5 * noise[:, 5])
    out[:, col["depressedMood"]] = _score(dep + 0.5 * noise[:, 6])
    out[:, col["anxietyStress"]] = _score(anx + 0.2 * stress + 0.5 * noise[:, 7])
    out[:, col["elevation"]] = _score(elev + 0.5 * noise[:, 8])
    out[:, col["activation"]] = _score(
        0.55 * energy + 0.45 * speed + 0.3 * (anx - 3.0) + 0.5 * noise[:, 9]
    )
    out[:, col["motivationToStart"]] = _score(
        6.2 - 0.6 * low + 0.35 * (energy - 5.5) + 0.6 * noise[:, 10]
    )

    # --- symptoms_data ----------------------------------------------------------------
    out[:, col["thoughtSpeed"]] = _score(speed + 0.5 * noise[:, 11])
    out[:, col["distractibility"]] = _score(
        3.0 + racing + 0.3 * (anx - 3.0) + 0.3 * low + 0.6 * noise[:, 12]
    )
    # Higher is better (ability to remember and concentrate): both poles impair it.
    out[:, col["memoryConcentration"]] = _score(
        7.2 - 0.5 * low_pos - 0.45 * racing - 0.2 * (anx - 3.0) + 0.6 * noise[:, 13]
    )
    out[:, col["ruminationAxis"]] = _score(
        2.0 + 0.75 * low + 0.3 * (anx - 3.0) + 0.6 * noise[:, 14]
    )

    # --- risk_routine_data ------------------------------------------------------------
    out[:, col["socialConnection"]] = _score(
        6.0 + tr.social_offset + 0.45 * (elev - 2.5) - 0.55 * low + 0.7 * noise[:, 15]
    )
    out[:, col["socialRhythmEvent"]] = uni[:, 1] < _sigmoid(-2.2 + 0.35 * up + 0.6 * stress)
    exercised = uni[:, 2] < _sigmoid(tr.exercise_logit + 0.3 * (energy - 5.5) - 0.25 * low)
    exercise_minutes = 5 * np.clip(np.rint((30.0 + 4.0 * (energy - 5.5) + 12 * noise[:, 16]) / 5),
                                   2, 36)
    out[:, col["exerciseDurationMin"]] = np.where(exercised, exercise_minutes, 0)
    feeling = _score(6.5 + 0.3 * (elev - 2.5) - 0.4 * low + noise[:, 17])
    out[:, col["exerciseFeeling"]] = np.where(exercised, feeling, 0)
    out[:, col["sexualRiskBehavior"]] = uni[:, 3] < _sigmoid(
        tr.sexual_risk_logit + 0.45 * up + 0.3 * np.maximum(energy - 5.5, 0.0)
    )
    # Mania over-plans and finishes less of it; depression plans little and finishes less.
    planned = rng.poisson(tr.tasks_rate * np.exp(0.12 * (energy - 5.5) - 0.06 * low))
    planned = np.minimum(planned, FIELDS[col["tasksPlanned"]].high).astype(np.int64)
    finish = _sigmoid(1.1 + 0.2 * (energy - 5.5) - 0.28 * low - 0.5 * np.maximum(speed - 6, 0))
    out[:, col["tasksPlanned"]] = planned
    out[:, col["tasksCompleted"]] = rng.binomial(planned, finish)

    # --- appetite_impulse_data --------------------------------------------------------
    out[:, col["generalAppetite"]] = _score(
        5.5 + 0.3 * tr.appetite_direction * low_pos - 0.3 * up + 0.8 * noise[:, 18]
    )
    out[:, col["dietTracking"]] = uni[:, 4] < _sigmoid(tr.diet_logit - 0.25 * low - 0.2 * up)
    out[:, col["skipMeals"]] = uni[:, 5] < _sigmoid(
        -2.4 + 0.25 * low + 0.3 * up + 0.2 * (anx - 3.0)
    )
    compulsion = uni[:, 6] < _sigmoid(tr.compulsion_logit + 0.35 * up + 0.25 * (anx - 3.0))
    intensity = np.clip(np.rint(4.0 + 0.35 * up + 0.25 * (anx - 3.0) + 1.3 * noise[:, 19]), 1, 10)
    out[:, col["compulsionEpisode"]] = compulsion
    out[:, col["compulsionIntensity"]] = np.where(compulsion, intensity, 0)
    used = uni[:, 7] < _sigmoid(tr.substance_logit + 0.35 * up + 0.15 * low + 0.1 * (anx - 3))
    units = 1 + rng.poisson(1.0 + 0.35 * up + 0.2 * low_pos)
    out[:, col["substanceUsage"]] = used
    out[:, col["substanceUnits"]] = np.where(
        used, np.minimum(units, FIELDS[col["substanceUnits"]].high), 0
    )
    caffeine = rng.poisson(tr.caffeine_rate * np.exp(0.08 * (energy - 5.5) + 0.05 * low_pos))
    out[:, col["caffeineDoses"]] = np.minimum(caffeine, FIELDS[col["caffeineDoses"]].high)
    out[:, col["libido"]] = _score(
        5.0 + 0.55 * (elev - 2.5) - 0.35 * low + 0.8 * noise[:, 20]
    )

    # --- meds_context_data ------------------------------------------------------------
    # Adherence drops most in mania (insight falls); lapses come in runs (slow AR process).
    adherent = uni[:, 8] < _sigmoid(tr.adherence_logit - 0.5 * up - 0.12 * low_pos - 1.2 * lapse)
    on_time = adherent & (uni[:, 9] < _sigmoid(1.8 - 0.3 * up - 0.15 * low_pos))
    out[:, col["medicationAdherence"]] = adherent
    out[:, col["medicationTiming"]] = on_time
    out[:, col["medicationChangeRecent"]] = med_change_daily[checkin_days]
    out[:, col["contextualStressors"]] = uni[:, 10] < _sigmoid(
        -1.9 + 1.0 * stress + 0.2 * (anx - 3.0) + 0.15 * low
    )
    return out


# --- serialisation ---------------------------------------------------------------------

_SEP = "\x1f"  # never appears in the JSON: keys are ASCII letters, values digits


def _column_template(column: str) -> str:
    parts = []
    for f in FIELDS:
        if f.column != column:
            continue
        placeholder = "%d.%d" if f.kind == "tenths" else "%d"
        parts.append(f'"{f.key}":{placeholder}')
    return "{" + ",".join(parts) + "}"


_ROW_TEMPLATE = "".join(_column_template(c) + _SEP for c in PAYLOAD_COLUMNS)
# Each tenths field feeds two placeholders (whole part, tenths digit).
_FORMAT_SOURCES = np.array(
    [i for i, f in enumerate(FIELDS) for _ in range(2 if f.kind == "tenths" else 1)]
)
_FORMAT_WHOLE = np.array(
    [p for p, i in enumerate(_FORMAT_SOURCES) if FIELDS[i].kind == "tenths"][0::2]
)
_COLUMN_KEYS: tuple[tuple[str, tuple[str, ...], int, int], ...] = tuple(
    (
        c,
        tuple(f.key for f in FIELDS if f.column == c),
        min(i for i, f in enumerate(FIELDS) if f.column == c),
        max(i for i, f in enumerate(FIELDS) if f.column == c) + 1,
    )
    for c in PAYLOAD_COLUMNS
)
_CHUNK_ROWS = 512  # bounds the size of one formatted block (~330 KB)


def format_json_rows(values: np.ndarray) -> Iterator[list[str]]:
    """Compact JSON for every row: yields, per chunk, a flat list of 6 strings per row.

    ``%d.%d`` of (tenths // 10, tenths % 10) prints exactly what ``json.dumps(tenths / 10)``
    prints, so the strings parse to the same values as :func:`rows_to_payloads` returns.
    """
    for lo in range(0, len(values), _CHUNK_ROWS):
        block = values[lo : lo + _CHUNK_ROWS]
        fmt = block[:, _FORMAT_SOURCES]
        fmt[:, _FORMAT_WHOLE] //= 10
        fmt[:, _FORMAT_WHOLE + 1] %= 10
        text = (_ROW_TEMPLATE * len(block)) % tuple(fmt.ravel().tolist())
        parts = text.split(_SEP)
        parts.pop()  # the template ends with a separator
        yield parts


def rows_to_payloads(values: np.ndarray) -> Iterator[dict[str, dict[str, int | float]]]:
    """Payload dicts (column -> key -> value) per row, Python ints and floats only."""
    for row in values.tolist():
        for i in TENTHS_FIELDS:
            row[i] = row[i] / 10
        yield {c: dict(zip(keys, row[a:b], strict=True)) for c, keys, a, b in _COLUMN_KEYS}
