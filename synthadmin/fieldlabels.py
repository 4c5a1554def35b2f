"""What each payload key means to a person: label, unit and the app's contract range.

One entry per key of ``synthadmin.content.registry.FIELDS`` (a test holds them in step). The
check-in page, the export's header and its data dictionary all read from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthadmin.content import FIELDS, PAYLOAD_COLUMNS, FieldSpec

#: Section titles of the six JSONB columns, in contract order.
SECTION_TITLES: dict[str, str] = {
    "sleep_data": "Sleep",
    "mood_data": "Mood",
    "symptoms_data": "Symptoms",
    "risk_routine_data": "Risk and routine",
    "appetite_impulse_data": "Appetite and impulses",
    "meds_context_data": "Medication and context",
}

#: Short prefix of each section in flattened (export) column names: ``mood_energyLevel``.
SECTION_PREFIX: dict[str, str] = {
    "sleep_data": "sleep",
    "mood_data": "mood",
    "symptoms_data": "symptoms",
    "risk_routine_data": "risk_routine",
    "appetite_impulse_data": "appetite_impulse",
    "meds_context_data": "meds_context",
}

_LABELS: dict[str, tuple[str, str]] = {
    "hoursSlept": ("Hours slept", "h"),
    "sleepQuality": ("Sleep quality", "score"),
    "perceivedSleepNeed": ("Perceived sleep need", "h"),
    "sleepHygiene": ("Sleep hygiene", "score"),
    "hasNapped": ("Napped", "yes/no"),
    "nappingDurationMin": ("Napping", "min"),
    "energyLevel": ("Energy", "score"),
    "depressedMood": ("Depressed mood", "score"),
    "anxietyStress": ("Anxiety / stress", "score"),
    "elevation": ("Elevation (high mood)", "score"),
    "activation": ("Activation", "score"),
    "motivationToStart": ("Motivation to start", "score"),
    "thoughtSpeed": ("Thought speed", "score"),
    "distractibility": ("Distractibility", "score"),
    "memoryConcentration": ("Memory / concentration", "score"),
    "ruminationAxis": ("Rumination", "score"),
    "socialConnection": ("Social connection", "score"),
    "socialRhythmEvent": ("Social rhythm disrupted", "yes/no"),
    "exerciseDurationMin": ("Exercise", "min"),
    "exerciseFeeling": ("Exercise feeling", "score"),
    "sexualRiskBehavior": ("Sexual risk behaviour", "yes/no"),
    "tasksPlanned": ("Tasks planned", "count"),
    "tasksCompleted": ("Tasks completed", "count"),
    "generalAppetite": ("Appetite", "score"),
    "dietTracking": ("Tracked diet", "yes/no"),
    "skipMeals": ("Skipped meals", "yes/no"),
    "compulsionEpisode": ("Compulsion episode", "yes/no"),
    "compulsionIntensity": ("Compulsion intensity", "score"),
    "substanceUsage": ("Used substances", "yes/no"),
    "substanceUnits": ("Substance units", "count"),
    "caffeineDoses": ("Caffeine doses", "count"),
    "libido": ("Libido", "score"),
    "medicationAdherence": ("Took medication", "yes/no"),
    "medicationTiming": ("Medication on time", "yes/no"),
    "medicationChangeRecent": ("Recent medication change", "yes/no"),
    "contextualStressors": ("Stressful events", "yes/no"),
}

#: The app's contract range by field kind (``docs/target-schema.md``, inclusive).
_CONTRACT_RANGE: dict[str, str] = {"tenths": "0-24", "score": "0-10", "flag": "0/1", "count": ">= 0"}


@dataclass(frozen=True)
class FieldLabel:
    """A payload key as a person reads it."""

    column: str
    key: str
    label: str
    unit: str
    range: str
    kind: str

    @property
    def flat_name(self) -> str:
        """Its column in a flattened export: ``<section>_<key>``."""
        return f"{SECTION_PREFIX[self.column]}_{self.key}"

    @property
    def label_with_unit(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit in ("h", "min") else self.label

    def format(self, value: object) -> str:
        """A stored value as text: ``7.4 h``, ``45 min``, ``yes``; ``—`` when absent."""
        if value is None or value == "":
            return "—"
        if self.unit == "yes/no":
            return "yes" if str(value) in ("1", "1.0", "True", "true") else "no"
        if self.unit in ("h", "min"):
            return f"{value} {self.unit}"
        return str(value)


def _label(spec: FieldSpec) -> FieldLabel:
    label, unit = _LABELS[spec.key]
    return FieldLabel(spec.column, spec.key, label, unit, _CONTRACT_RANGE[spec.kind], spec.kind)


#: Every payload key, in contract order.
FIELD_LABELS: tuple[FieldLabel, ...] = tuple(_label(spec) for spec in FIELDS)
LABEL_BY_KEY: dict[str, FieldLabel] = {f.key: f for f in FIELD_LABELS}


def section_fields(column: str) -> tuple[FieldLabel, ...]:
    """The labelled keys of one JSONB column, in contract order."""
    if column not in PAYLOAD_COLUMNS:
        raise KeyError(column)
    return tuple(f for f in FIELD_LABELS if f.column == column)
