"""What a generation run is asked to do, and its validation (shared by every adapter)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings
from django.utils import timezone
from faker.config import AVAILABLE_LOCALES

from synthadmin.content import DEFAULT_ADHERENCE, PATTERN_NAMES
from synthadmin.exceptions import InvalidRequestError

MAX_SEED = 2**63 - 1
MAX_CONCURRENCY = 32


@dataclass(frozen=True)
class GenerationRequest:
    """Parameters of one synthetic run. ``None`` means "choose the default at run time"."""

    patients: int = 5
    therapists: int = 0
    checkin_days: int = 30
    pattern: str = "stable"
    seed: int | None = None
    end_date: dt.date | None = None
    adherence: float = DEFAULT_ADHERENCE
    locale: str = "pt_BR"
    concurrency: int | None = None

    def as_parameters(self) -> dict[str, Any]:
        """JSON-friendly form for the run ledger and reports."""
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat() if self.end_date else None
        return data


def generation_request_validate(
    request: GenerationRequest, *, max_patients: int | None = None
) -> GenerationRequest:
    """Check every parameter; return the request with defaults (seed, end date...) filled in.

    Raises InvalidRequestError naming the parameter and what is allowed. Writes nothing.
    ``max_patients`` lowers the per-run limit (the admin form uses a smaller one).
    """
    limit = min(
        max_patients or settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN, settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN
    )
    _integer("patients", request.patients, 0, limit)
    _integer("therapists", request.therapists, 0, settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN)
    if request.patients + request.therapists < 1:
        raise InvalidRequestError(
            "nothing to create: ask for at least one patient or therapist", field="patients"
        )
    _integer("checkin_days", request.checkin_days, 0, settings.SYNTHADMIN_MAX_CHECKIN_DAYS)
    if request.pattern not in PATTERN_NAMES:
        raise InvalidRequestError(
            f"unknown pattern {request.pattern!r}; valid patterns: {', '.join(PATTERN_NAMES)}",
            field="pattern",
        )
    if (
        isinstance(request.adherence, bool)
        or not isinstance(request.adherence, int | float)
        or not (0 < request.adherence <= 1)
    ):
        raise InvalidRequestError(
            "adherence must be a number above 0 and at most 1 (the share of days with a check-in), "
            f"got {request.adherence!r}",
            field="adherence",
        )
    if request.locale not in AVAILABLE_LOCALES:
        raise InvalidRequestError(
            f"unknown locale {request.locale!r}; use a Faker locale such as pt_BR, en_US, es_ES",
            field="locale",
        )
    seed = request.seed
    if seed is None:
        seed = secrets.randbits(63)
    _integer("seed", seed, 0, MAX_SEED)
    today = timezone.localdate()
    end_date = request.end_date or today
    if not isinstance(end_date, dt.date) or isinstance(end_date, dt.datetime):
        raise InvalidRequestError(f"end date must be a date (YYYY-MM-DD), got {end_date!r}", field="end_date")
    if end_date > today:
        raise InvalidRequestError(
            f"end date {end_date.isoformat()} is in the future; use today ({today.isoformat()}) or earlier",
            field="end_date",
        )
    concurrency = settings.SYNTHADMIN_AUTH_CONCURRENCY if request.concurrency is None else request.concurrency
    _integer("concurrency", concurrency, 1, MAX_CONCURRENCY)
    return replace(request, seed=seed, end_date=end_date, concurrency=concurrency)


def _integer(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be a whole number, got {value!r}", field=name)
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low:,} and {high:,}, got {value:,}", field=name)
