"""Trajectory and payload engine for synthetic bipolar check-in histories.

Pure functions only: no database, no network, no Django, no clock. A history is a pure
function of (pattern, end_date, days, seed, adherence). See docs/patterns.md for the clinical
model behind each pattern.

What the engine offers is readable without loading it (``registry``, ``states``, ``errors``:
no numpy); the engine itself (``history``, ``patterns``, ``validation``) is imported on first
use of one of its names here, so a process that builds no history never loads numpy, nor
pydantic for the payload contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthadmin.content.errors import (
    ContentError,
    InvalidHistoryParameterError,
    PayloadValidationError,
    UnknownPatternError,
)
from synthadmin.content.registry import DEFAULT_ADHERENCE, FIELDS, PATTERN_NAMES, PAYLOAD_COLUMNS, FieldSpec
from synthadmin.content.states import STATE_BY_CODE, MoodState
from synthadmin.startup import exports_on_first_use

if TYPE_CHECKING:
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
    from synthadmin.content.patterns import Pattern, get_pattern
    from synthadmin.content.validation import CheckInPayload, validate_payload

#: The engine's names, by the module that holds each: imported on first use (PEP 562).
_ENGINE = {
    **dict.fromkeys(
        (
            "EpisodeInProgress",
            "EpisodeRun",
            "EpisodeSpan",
            "PatientHistory",
            "PatientTraits",
            "build_history",
            "continuation_seed",
            "continue_history",
            "patient_seed",
            "patient_traits",
        ),
        "synthadmin.content.history",
    ),
    "Pattern": "synthadmin.content.patterns",
    "get_pattern": "synthadmin.content.patterns",
    "CheckInPayload": "synthadmin.content.validation",
    "validate_payload": "synthadmin.content.validation",
}


if not TYPE_CHECKING:  # the type checker reads the imports above, and flags a name that is none
    __getattr__ = exports_on_first_use(__name__, _ENGINE)


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
