"""Trajectory and payload engine for synthetic bipolar check-in histories.

Pure functions only: no database, no network, no Django, no clock. A history is a pure
function of (pattern, end_date, days, seed, adherence). See docs/patterns.md for the clinical
model behind each pattern.
"""

from synthadmin.content.adherence import DEFAULT_ADHERENCE
from synthadmin.content.errors import (
    ContentError,
    InvalidHistoryParameterError,
    PayloadValidationError,
    UnknownPatternError,
)
from synthadmin.content.history import (
    EpisodeInProgress,
    EpisodeRun,
    EpisodeSpan,
    PatientHistory,
    PatientTraits,
    build_history,
    continuation_seed,
    continue_history,
    patient_seed,
    patient_traits,
)
from synthadmin.content.patterns import PATTERN_NAMES, Pattern, get_pattern
from synthadmin.content.payloads import FIELDS, PAYLOAD_COLUMNS, FieldSpec
from synthadmin.content.states import STATE_BY_CODE, MoodState
from synthadmin.content.validation import CheckInPayload, validate_payload

__all__ = [
    "DEFAULT_ADHERENCE",
    "FIELDS",
    "PATTERN_NAMES",
    "PAYLOAD_COLUMNS",
    "STATE_BY_CODE",
    "CheckInPayload",
    "ContentError",
    "EpisodeInProgress",
    "EpisodeRun",
    "EpisodeSpan",
    "FieldSpec",
    "InvalidHistoryParameterError",
    "MoodState",
    "PatientHistory",
    "PatientTraits",
    "Pattern",
    "PayloadValidationError",
    "UnknownPatternError",
    "build_history",
    "continuation_seed",
    "continue_history",
    "get_pattern",
    "patient_seed",
    "patient_traits",
    "validate_payload",
]
