"""Mood states and their compact integer codes.

Trajectories are stored as small integer arrays (one code per day) so that whole histories can
be handled with numpy; :data:`STATE_BY_CODE` maps a code back to its :class:`MoodState`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DEPRESSIVE_STATES",
    "MANIC_POLE_STATES",
    "STATE_BY_CODE",
    "STATE_CODE",
    "MoodState",
]


class MoodState(StrEnum):
    """The daily mood state of a synthetic patient.

    ``DEPRESSED_MILD`` is sub-threshold (minor) depression; ``DEPRESSED_SEVERE`` is a major
    depressive episode. ``HYPOMANIC`` days belong either to a full hypomanic episode (>= 4 days)
    or to a brief sub-threshold deviation; the episode record says which.
    """

    EUTHYMIC = "euthymic"
    DEPRESSED_MILD = "depressed_mild"
    DEPRESSED_SEVERE = "depressed_severe"
    HYPOMANIC = "hypomanic"
    MANIC = "manic"
    MIXED = "mixed"


# Declaration order fixes the codes; never reorder, stored arrays depend on it.
STATE_BY_CODE: tuple[MoodState, ...] = tuple(MoodState)
STATE_CODE: dict[MoodState, int] = {state: code for code, state in enumerate(STATE_BY_CODE)}

DEPRESSIVE_STATES: frozenset[MoodState] = frozenset({MoodState.DEPRESSED_MILD, MoodState.DEPRESSED_SEVERE})
MANIC_POLE_STATES: frozenset[MoodState] = frozenset({MoodState.HYPOMANIC, MoodState.MANIC})
