"""``generate_synthetic``'s options: declared once, read into a ``GenerationRequest``.

Numbers arrive as text and are validated by the service's parsers, so every bad value gets the
same one-line CommandError (exit 1) instead of argparse's usage dump (exit 2). Defaults are
``GenerationRequest``'s (one place); None means "not given" (a scenario's value then stands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.core.management.base import CommandParser

from synthadmin.content import PATTERN_NAMES
from synthadmin.exceptions import InvalidRequestError
from synthadmin.services.requests import (
    GenerationRequest,
    ascii_date,
    ascii_decimal,
    ascii_integer,
    mix_parse,
)

#: Service field → the option a user typed.
OPTION_OF_FIELD = {
    "patients": "--patients",
    "therapists": "--therapists",
    "checkin_days": "--checkins",
    "pattern": "--pattern",
    "seed": "--seed",
    "end_date": "--end-date",
    "adherence": "--adherence",
    "locale": "--locale",
    "concurrency": "--concurrency",
    "mix": "--mix",
}

DEFAULTS = GenerationRequest()

#: Service field, option ``dest``, parser: the options given as numbers or dates.
_PARSED: tuple[tuple[str, str, Callable[[str, object], Any]], ...] = (
    ("patients", "patients", ascii_integer),
    ("therapists", "therapists", ascii_integer),
    ("checkin_days", "checkins", ascii_integer),
    ("seed", "seed", ascii_integer),
    ("end_date", "end_date", ascii_date),
    ("adherence", "adherence", ascii_decimal),
    ("concurrency", "concurrency", ascii_integer),
)


def generation_arguments_add(parser: CommandParser) -> None:
    """The options that say what to generate (``--patients`` ... ``--concurrency``)."""
    parser.add_argument(
        "--patients", default=None, metavar="N", help=f"patients to create (default {DEFAULTS.patients})"
    )
    parser.add_argument(
        "--therapists",
        default=None,
        metavar="M",
        help=f"therapists to create (default {DEFAULTS.therapists})",
    )
    parser.add_argument(
        "--checkins",
        "--days",
        dest="checkins",
        default=None,
        metavar="D",
        help=f"days of check-in history per patient (default {DEFAULTS.checkin_days})",
    )
    parser.add_argument(
        "--pattern",
        default=None,
        help=f"mood pattern: {', '.join(PATTERN_NAMES)} (default {DEFAULTS.pattern})",
    )
    parser.add_argument(
        "--mix",
        default=None,
        metavar="PATTERN=W,...",
        help="several patterns in one run, e.g. stable=60,cycling=25,depressive=15 (percentages, or "
        "counts adding up to --patients); replaces --pattern",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        metavar="NAME",
        help="run a saved scenario (python manage.py scenario list); options given beside it override it",
    )
    parser.add_argument("--seed", default=None, help="seed for reproducible content (default: random)")
    parser.add_argument(
        "--end-date", default=None, metavar="YYYY-MM-DD", help="last day of history (default today)"
    )
    parser.add_argument(
        "--adherence", default=None, help=f"share of days with a check-in, 0-1 (default {DEFAULTS.adherence})"
    )
    parser.add_argument("--locale", default=None, help=f"Faker locale for names (default {DEFAULTS.locale})")
    parser.add_argument(
        "--concurrency",
        default=None,
        metavar="K",
        help="concurrent Auth calls (default SYNTHADMIN_AUTH_CONCURRENCY)",
    )


def output_arguments_add(parser: CommandParser) -> None:
    """The options that say how to run and what to print (``--dry-run`` ... ``--background``)."""
    parser.add_argument(
        "--dry-run", action="store_true", help="build everything, write nothing, print what would be written"
    )
    parser.add_argument(
        "--json", action="store_true", help="print exactly one JSON document (the report) on stdout"
    )
    parser.add_argument(
        "--credentials-out",
        default=None,
        metavar="PATH",
        help="write email,password,role,user_id of every created user to PATH (a new file, mode 0600)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="let --credentials-out replace an existing regular file (never a symbolic link)",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="enqueue the run for task workers and return at once (python manage.py synthadmin_worker)",
    )


def generation_request_from_options(options: dict[str, Any], base: GenerationRequest) -> GenerationRequest:
    """``base`` (a scenario's recipe, or ``DEFAULTS``) with every option given replacing the value
    it names. Raises InvalidRequestError for a value that is not a number or date (ASCII only)."""
    given: dict[str, Any] = {}
    for field, option, parse in _PARSED:
        if options[option] is not None:
            given[field] = parse(field, options[option])
    for field in ("pattern", "locale"):
        if options[field] is not None:
            given[field] = options[field]
    if options["mix"] is not None:
        given["mix"] = mix_parse(options["mix"])
    elif options["pattern"] is not None:
        given["mix"] = None  # --pattern beside a scenario with a mix: one pattern for everyone
    return replace(base, **given)


def option_message(exc: InvalidRequestError) -> str:
    """The service's refusal, led by the option the user typed for its field."""
    option = OPTION_OF_FIELD.get(exc.field or "", "")
    return f"{option}: {exc}" if option else str(exc)
