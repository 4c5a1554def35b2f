"""Typed errors raised by the content engine.

Every error is a :class:`ValueError` so callers that only know "bad input" can still catch it;
callers that need to tell the cases apart catch the subclass.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ContentError",
    "InvalidHistoryParameterError",
    "PayloadValidationError",
    "UnknownPatternError",
]


class ContentError(ValueError):
    """Base class of every error raised by :mod:`synthadmin.content`."""


class UnknownPatternError(ContentError):
    """A pattern name that is not one of :data:`synthadmin.content.PATTERN_NAMES`."""

    def __init__(self, name: str, valid: Iterable[str]) -> None:
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"unknown pattern {name!r}; valid patterns: {', '.join(self.valid)}")


class InvalidHistoryParameterError(ContentError):
    """A history request with an out-of-range parameter (days, adherence, seed, dates)."""

    def __init__(self, parameter: str, problem: str) -> None:
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class PayloadValidationError(ContentError):
    """A check-in payload that the app's API would reject.

    ``problems`` holds one ``"column.key: problem"`` string per failure; ``str()`` joins them.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))
