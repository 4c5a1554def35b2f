"""Ground truth: what a synthetic patient's history was generated to be, stored compactly.

Stored on the patient's ledger entry (``SyntheticUser.ground_truth``, synthadmin's own schema)
in the transaction that writes its check-ins, so it always agrees with them::

    {"version": 1, "pattern": "cycling", "start": "2025-12-01", "end": "2026-11-30",
     "states": [["euthymic", "2025-12-01", "2026-01-14"], ["depressed_mild", ...], ...],
     "episodes": [{"state": "depressed_severe", "start": ..., "end": ..., "full": true,
                   "kind": "major_depression", "true_days": 31}, ...]}

``states`` are the runs of equal daily states (every day of the window, check-in or not) —
what charts, exports and tests read; ``episodes`` are the model's episodes with their full
length (``true_days`` may reach past the window), what a continuation needs. About 10 runs per
patient-year for the clinical patterns, so 10,000 patients x 10 years stay small.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from synthadmin.content import STATE_BY_CODE

if TYPE_CHECKING:
    from synthadmin.content import PatientHistory

VERSION = 1


def ground_truth_of(history: PatientHistory) -> dict[str, Any]:
    """The JSON-ready ground truth of ``history`` (pure)."""
    codes = history.daily_states.tolist()
    runs: list[list[str]] = []
    start = 0
    for index in range(1, len(codes) + 1):
        if index == len(codes) or codes[index] != codes[start]:
            runs.append(
                [
                    STATE_BY_CODE[codes[start]].value,
                    _day(history.start_date, start),
                    _day(history.start_date, index - 1),
                ]
            )
            start = index
    return {
        "version": VERSION,
        "pattern": history.pattern,
        "start": history.start_date.isoformat(),
        "end": history.end_date.isoformat(),
        "states": runs,
        "episodes": [
            {
                "state": span.state.value,
                "start": span.start.isoformat(),
                "end": span.end.isoformat(),
                "full": bool(span.full),
                "kind": span.kind,
                "true_days": int(span.true_days),
            }
            for span in history.episode_spans()
        ],
    }


def state_by_day(ground_truth: dict[str, Any]) -> dict[dt.date, str]:
    """Every day of the stored window → its mood state (expands ``states``)."""
    days: dict[dt.date, str] = {}
    for state, first, last in ground_truth.get("states", []):
        day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        while day <= end:
            days[day] = state
            day += dt.timedelta(days=1)
    return days


def _day(start: dt.date, offset: int) -> str:
    return (start + dt.timedelta(days=offset)).isoformat()
