"""What a generation run is asked to do, and its validation (shared by every adapter)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from synthadmin.content import DEFAULT_ADHERENCE, PATTERN_NAMES
from synthadmin.exceptions import InvalidRequestError
from synthadmin.services.population import mix_counts, patient_patterns

MAX_SEED = 2**63 - 1
MAX_CONCURRENCY = 32

#: A whole number as people type it: ASCII digits only. Python's ``int()`` also takes Arabic-Indic or
#: full-width digits and "1_0", which nobody means as a count.
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ASCII_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def ascii_integer(field: str, text: object) -> int:
    """``text`` as a whole number written in ASCII digits; InvalidRequestError naming ``field``."""
    value = str(text).strip()
    if not _ASCII_INTEGER.fullmatch(value):
        raise InvalidRequestError(f"must be a whole number, got {text!r} (digits 0-9 only)", field=field)
    return int(value)


def ascii_decimal(field: str, text: object) -> float:
    """``text`` as a decimal number written in ASCII (no ``inf``, ``nan`` or ``_``)."""
    value = str(text).strip()
    if not _ASCII_DECIMAL.fullmatch(value):
        raise InvalidRequestError(
            f"must be a number written with digits 0-9 and at most one '.', got {text!r}", field=field
        )
    return float(value)


def ascii_date(field: str, text: object) -> dt.date:
    """``text`` as a date written YYYY-MM-DD in ASCII digits."""
    value = str(text).strip()
    try:
        if not _ASCII_DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"must be a date as YYYY-MM-DD, got {text!r}", field=field) from None


def history_window_validate(*, end_date: dt.date, days: int, field: str = "checkin_days") -> None:
    """Refuse a history of ``days`` days ending ``end_date`` that leaves the calendar.

    The content engine refuses a window starting before 0001-01-01 (``days`` > the ordinal of
    ``end_date``); dates after 9999-12-31 do not exist in Python. Checked before anything is
    written, so no Auth user is ever created for a history that cannot be built. Raises
    InvalidRequestError naming ``field``.
    """
    if days > end_date.toordinal():
        first = dt.date.min + dt.timedelta(days=days - 1)
        raise InvalidRequestError(
            f"{days:,} days ending {end_date.isoformat()} would start before 0001-01-01; "
            f"end on {first.isoformat()} or later, or ask for fewer days",
            field=field,
        )
    if end_date >= dt.date.max:
        raise InvalidRequestError(
            f"end date {end_date.isoformat()} leaves no room after it (the calendar ends 9999-12-31)",
            field="end_date",
        )


#: What each parameter is called on every form, page and report (the command's options are
#: ``--patients``, ``--checkins`` ...; see docs/commands.md).
PARAMETER_LABELS: dict[str, str] = {
    "patients": "Patients",
    "therapists": "Therapists",
    "checkin_days": "Check-in days",
    "pattern": "Pattern",
    "mix": "Pattern mix",
    "patients_by_pattern": "Patients by pattern",
    "adherence": "Adherence",
    "locale": "Locale",
    "seed": "Seed",
    "end_date": "End date",
    "concurrency": "Concurrency",
    "hold_logins": "Create logins",
    "checkins_expected": "Check-ins expected",
}


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
    #: Patterns mixed in one run: pattern → weight (percentages adding up to 100, or counts adding
    #: up to ``patients``). None: every patient follows ``pattern``.
    mix: dict[str, int] | None = None

    def as_parameters(self) -> dict[str, Any]:
        """JSON-friendly form for the run ledger and reports."""
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat() if self.end_date else None
        if self.mix is None:
            data.pop("mix")
        return data


@dataclass(frozen=True)
class GenerationParams:
    """A validated ``GenerationRequest``: every default chosen, nothing optional.

    Only ``generation_request_validate`` makes one; services take it and trust it.
    ``checkin_days`` is the length of each patient's history in days, not
    the number of days with a check-in (fewer, by ``adherence``); the stored run parameters and
    the ``--json`` report keep the name ``checkin_days``.
    """

    patients: int
    therapists: int
    checkin_days: int
    pattern: str
    seed: int
    end_date: dt.date
    adherence: float
    locale: str
    concurrency: int
    #: Exact patient counts per pattern (``population.mix_counts``); None: all ``pattern``.
    mix: dict[str, int] | None = None

    def patient_patterns(self) -> list[str]:
        """The pattern of each patient, by index (``population.patient_patterns``)."""
        return patient_patterns(self.mix) if self.mix is not None else [self.pattern] * self.patients

    def as_parameters(self) -> dict[str, Any]:
        """JSON-friendly form for the run ledger and reports (``mix`` only when there is one)."""
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat()
        if self.mix is None:
            data.pop("mix")
        return data


def generation_request_validate(
    request: GenerationRequest | GenerationParams, *, max_patients: int | None = None
) -> GenerationParams:
    """Check every parameter; return the parameters with defaults (seed, end date...) chosen.

    Idempotent: validating the parameters it returns gives them back unchanged (an adapter
    validates, then the service it calls validates the same value again; one parse, one rule).
    Raises InvalidRequestError naming the parameter and what is allowed. Writes nothing.
    ``max_patients`` lowers the per-run limit (the admin form uses a smaller one); it counts
    patients **and** therapists, every one of which is an Auth call.
    """
    errors = generation_request_errors(request, max_patients=max_patients)
    if errors:
        raise errors[0]
    seed = secrets.randbits(63) if request.seed is None else request.seed
    concurrency = settings.SYNTHADMIN_AUTH_CONCURRENCY if request.concurrency is None else request.concurrency
    return GenerationParams(
        patients=request.patients,
        therapists=request.therapists,
        checkin_days=request.checkin_days,
        pattern=request.pattern,
        seed=seed,
        end_date=request.end_date or timezone.localdate(),
        adherence=float(request.adherence),
        locale=request.locale,
        concurrency=concurrency,
        mix=_mix_validate(request.mix, request.patients),
    )


def generation_request_errors(
    request: GenerationRequest | GenerationParams,
    *,
    max_patients: int | None = None,
    wrong: frozenset[str] = frozenset(),
) -> list[InvalidRequestError]:
    """Every problem of ``request`` at once, at most one per parameter, in the order
    ``generation_request_validate`` raises them (the forms show them all in one go, as Django's
    own). A parameter that depends on another (the mix on the patients, the history window on
    the days) is checked only when that one is right; ``wrong`` names parameters the caller
    already knows to be wrong (a form's field that did not parse). Writes nothing."""
    errors: list[InvalidRequestError] = []
    for check in _CHECKS:
        if wrong.intersection(check.after) or any(e.field in check.after for e in errors):
            continue
        try:
            check.run(request, max_patients)
        except InvalidRequestError as exc:
            if all(e.field != exc.field for e in errors):
                errors.append(exc)
    return errors


def _users_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    limit = min(
        max_patients or settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN, settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN
    )
    _integer("patients", request.patients, 0, limit)
    _integer("therapists", request.therapists, 0, settings.SYNTHADMIN_MAX_PATIENTS_PER_RUN)
    if request.patients + request.therapists < 1:
        raise InvalidRequestError(
            "nothing to create: ask for at least one patient or therapist", field="patients"
        )
    if max_patients is not None and request.patients + request.therapists > limit:
        raise InvalidRequestError(
            f"at most {limit:,} users (patients and therapists together) per run here, "
            f"got {request.patients + request.therapists:,}",
            field="patients",
        )


def _days_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    _integer("checkin_days", request.checkin_days, 0, settings.SYNTHADMIN_MAX_CHECKIN_DAYS)


def _pattern_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    if request.pattern not in PATTERN_NAMES:
        raise InvalidRequestError(
            f"unknown pattern {request.pattern!r}; valid patterns: {', '.join(PATTERN_NAMES)}",
            field="pattern",
        )


def _adherence_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
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


@functools.cache
def locales_available() -> tuple[str, ...]:
    """Faker's locales (the names a run may draw from); Faker is loaded on the first call."""
    from faker.config import AVAILABLE_LOCALES

    return tuple(AVAILABLE_LOCALES)


def _locale_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    if request.locale not in locales_available():
        raise InvalidRequestError(
            f"unknown locale {request.locale!r}; use a Faker locale such as pt_BR, en_US, es_ES",
            field="locale",
        )


def _seed_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    if request.seed is not None:  # none: a random one, always valid
        _integer("seed", request.seed, 0, MAX_SEED)


def _end_date_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    today = timezone.localdate()
    end_date = request.end_date or today
    if not isinstance(end_date, dt.date) or isinstance(end_date, dt.datetime):
        raise InvalidRequestError(f"end date must be a date (YYYY-MM-DD), got {end_date!r}", field="end_date")
    if end_date > today:
        raise InvalidRequestError(
            f"end date {end_date.isoformat()} is in the future; use today ({today.isoformat()}) or earlier",
            field="end_date",
        )
    if isinstance(request.checkin_days, int):  # a wrong number of days has its own error
        history_window_validate(end_date=end_date, days=request.checkin_days)


def _concurrency_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    concurrency = settings.SYNTHADMIN_AUTH_CONCURRENCY if request.concurrency is None else request.concurrency
    _integer("concurrency", concurrency, 1, MAX_CONCURRENCY)


def _mix_patterns_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    _mix_patterns_validate(request.mix)


def _mix_check(request: GenerationRequest | GenerationParams, max_patients: int | None) -> None:
    _mix_validate(request.mix, request.patients)


@dataclass(frozen=True)
class _Check:
    run: Callable[[GenerationRequest | GenerationParams, int | None], None]
    #: Fields that must be right before this check means anything.
    after: tuple[str, ...] = ()


_CHECKS = (
    _Check(_users_check),
    _Check(_days_check),
    _Check(_pattern_check),
    _Check(_adherence_check),
    _Check(_locale_check),
    _Check(_seed_check),
    _Check(_end_date_check),
    _Check(_concurrency_check),
    _Check(_mix_patterns_check),
    _Check(_mix_check, after=("patients",)),
)


def _integer(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be a whole number, got {value!r}", field=name)
    if not low <= value <= high:
        raise InvalidRequestError(f"{name} must be between {low:,} and {high:,}, got {value:,}", field=name)


def _mix_validate(mix: dict[str, int] | None, patients: int) -> dict[str, int] | None:
    """Check a pattern mix; return exact counts per pattern (``population.mix_counts``)."""
    if mix is None:
        return None
    _mix_patterns_validate(mix)
    total = sum(mix.values())
    if total not in (100, patients):
        raise InvalidRequestError(
            f"mix weights add up to {total}: make them percentages (adding up to 100) "
            f"or counts (adding up to the {patients:,} patients)",
            field="mix",
        )
    counts = {pattern: count for pattern, count in mix_counts(mix, patients).items() if count}
    # No patient, no pattern to mix: None (all patients follow ``pattern``), which validates
    # again as itself; an empty mix would not (the services validate what adapters validated).
    return counts or None


def _mix_patterns_validate(mix: object) -> None:
    """A mix's patterns and weights, whatever the patients (known patterns, whole weights >= 0)."""
    if mix is None:
        return
    if not isinstance(mix, dict) or not mix:
        raise InvalidRequestError(
            "mix must name at least one pattern, e.g. stable=60,cycling=40", field="mix"
        )
    for pattern, weight in mix.items():
        if pattern not in PATTERN_NAMES:
            raise InvalidRequestError(
                f"unknown pattern {pattern!r} in the mix; valid patterns: {', '.join(PATTERN_NAMES)}",
                field="mix",
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise InvalidRequestError(
                f"mix weight of {pattern} must be a whole number >= 0, got {weight!r}", field="mix"
            )


def mix_parse(value: object) -> dict[str, int]:
    """A pattern mix as every adapter takes it, read by this one parser.

    ``value`` is the text staff type on the form, the command line (``--mix``) and in a scenario
    file — ``"stable=60,cycling=25"`` — or, for scenarios saved before that syntax, the same as
    a JSON or TOML table (``{"stable": 60, "cycling": 25}``), checked the same way: pattern
    names as text, each once, weights whole numbers in ASCII digits. Returns
    ``{"stable": 60, "cycling": 25}``; the weights' meaning (percentages or counts) is checked
    against the patients by ``generation_request_validate``.

    Raises InvalidRequestError (field ``mix``) for anything else.
    """
    if isinstance(value, str) and value.strip().startswith("{"):  # a JSON table, pasted or kept
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidRequestError(
                f"write the mix as pattern=weight,..., got {value!r:.80}", field="mix"
            ) from None
    if isinstance(value, dict):
        pairs = [(name, weight) for name, weight in value.items()]
        if not all(isinstance(name, str) for name, _ in pairs):
            raise InvalidRequestError(f"write the mix as pattern=weight,..., got {value!r:.80}", field="mix")
    elif isinstance(value, str):
        pairs = []
        for part in value.split(","):
            name, sep, weight = part.strip().partition("=")
            if not sep or not name.strip():
                raise InvalidRequestError(f"write the mix as pattern=weight,..., got {value!r}", field="mix")
            pairs.append((name, weight))
    else:
        raise InvalidRequestError(f"write the mix as pattern=weight,..., got {value!r:.80}", field="mix")
    mix: dict[str, int] = {}
    for name, weight in pairs:
        name = name.strip()
        if name in mix:
            raise InvalidRequestError(f"pattern {name!r} appears twice in the mix", field="mix")
        if isinstance(weight, bool) or isinstance(weight, float):
            raise InvalidRequestError(
                f"mix weight of {name} must be a whole number >= 0, got {weight!r}", field="mix"
            )
        mix[name] = ascii_integer("mix", weight)
    return mix


def mix_text(mix: dict[str, int] | None) -> str:
    """A mix written the way ``mix_parse`` reads it: ``stable=60,cycling=25`` ("" for none)."""
    return ",".join(f"{pattern}={weight}" for pattern, weight in (mix or {}).items())
