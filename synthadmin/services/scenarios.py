"""Scenarios: named, saved recipes for a synthetic population — run, replayed, reset, exported.

A scenario (``synthadmin.models.Scenario``) holds what ``population_generate`` needs: therapists,
patients, a pattern mix (or one pattern), days of history, adherence, locale, a seed (or none:
a fresh population each run) and an end date (or none: today). ``scenario_run`` runs it;
``scenario_reset`` purges its earlier runs (with purge's usual safety rules; one in progress is
cancelled first) and runs it again, so that exactly one live run of the scenario remains; the
same seed replays the same population. ``scenario_export`` / ``scenario_import`` read and write
a small TOML file::

    [scenario]
    name = "demo-clinic"
    description = "..."
    therapists = 4
    patients = 40
    checkin_days = 180
    adherence = 0.85
    locale = "pt_BR"
    seed = 2026            # omit for a fresh population each run
    # end_date = 2026-06-30  (omit: histories end today)
    mix = "stable=50,cycling=20,depressive=20,rapid_cycling=10"

The mix is written as on the form and the command line (``requests.mix_parse`` reads all of
them; a ``[scenario.mix]`` table of pattern = weight, as files written before, is read by it too).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tomli_w
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.cancel import runs_purge
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import Credential, ProgressListener, PurgeReport, RunReport
from synthadmin.services.requests import (
    GenerationRequest,
    generation_request_errors,
    generation_request_validate,
    mix_parse,
    mix_text,
)

#: The built-in scenarios (installed by migration 0005, restored by ``scenarios_builtin_ensure``).
BUILT_IN = [
    {
        "name": "demo-clinic",
        "description": (
            "A small outpatient clinic for demos and QA: 4 therapists with 10 patients each, half of "
            "them treated and mostly euthymic (ChronoRecord: 71 % euthymic days), a fifth in a bipolar I "
            "natural course and a fifth depression-dominant (depression is most of the symptomatic time, "
            "Judd 2002/2003), and one in ten rapid cycling (12-24 % of specialty-clinic patients). Half a "
            "year of daily check-ins ending today; a fixed seed, so every reset replays the same clinic."
        ),
        "therapists": 4,
        "patients": 40,
        "mix": {"stable": 50, "cycling": 20, "depressive": 20, "rapid_cycling": 10},
        "checkin_days": 180,
        "adherence": 0.85,
        "locale": "pt_BR",
        "seed": 2026,
    },
    {
        "name": "load-test-10k",
        "description": (
            "A load-test population: 10,000 patients with a year each across 100 therapists (caseloads of "
            "100), in the proportions of a treated population (mostly stable, 15 % cycling, 10 % "
            "depression-dominant, 5 % rapid cycling). No seed: each run is a fresh population."
        ),
        "therapists": 100,
        "patients": 10_000,
        "mix": {"stable": 70, "cycling": 15, "depressive": 10, "rapid_cycling": 5},
        "checkin_days": 365,
        "adherence": 0.85,
        "locale": "pt_BR",
        "seed": None,
    },
]


#: The largest scenario file read (characters): an exported scenario has a few hundred.
SCENARIO_MAX_CHARS = 64 * 1024

#: The keys of a scenario file, in the order they are written.
FIELDS = ("name", "description", "therapists", "patients", "pattern", "checkin_days", "adherence", "locale")


@dataclass(frozen=True)
class ResetReport:
    """What a reset did: the purge of the earlier runs, then the new run (None if it could not)."""

    purge: PurgeReport
    run: RunReport | None
    reason: str = ""


def scenario_request(scenario: Scenario) -> GenerationRequest:
    """The generation request a scenario stands for (``population_generate`` validates the rest).

    Raises InvalidRequestError when the stored mix is not one ``mix_parse`` reads.
    """
    mix = mix_parse(scenario.mix) if scenario.mix else None
    return dataclasses.replace(_request_without_mix(scenario), mix=mix)


def scenario_mix_text(scenario: Scenario) -> str:
    """The mix as staff write it (``stable=50,cycling=50``), or the one pattern, for lists."""
    if not scenario.mix:
        return scenario.pattern
    try:
        return mix_text(mix_parse(scenario.mix))
    except InvalidRequestError:
        return f"(unusable mix {scenario.mix!r:.60})"


def scenario_errors(scenario: Scenario, *, wrong: frozenset[str] = frozenset()) -> list[InvalidRequestError]:
    """Every reason the scenario could not run, at once (the rules of a run; the form shows
    them all; ``wrong``: fields already known to be wrong). Writes nothing."""
    try:
        request = scenario_request(scenario)
    except InvalidRequestError as exc:  # an unreadable mix: the rest is checked without it
        return [exc, *generation_request_errors(_request_without_mix(scenario), wrong=wrong)]
    return generation_request_errors(request, wrong=wrong)


def _request_without_mix(scenario: Scenario) -> GenerationRequest:
    return GenerationRequest(
        patients=scenario.patients,
        therapists=scenario.therapists,
        checkin_days=scenario.checkin_days,
        pattern=scenario.pattern,
        seed=scenario.seed,
        end_date=scenario.end_date,
        adherence=scenario.adherence,
        locale=scenario.locale,
    )


def scenario_validate(scenario: Scenario) -> None:
    """Raise InvalidRequestError when the scenario could not run (the same rules as a run)."""
    generation_request_validate(scenario_request(scenario))


def scenario_live_runs(scenario: Scenario) -> list[SyntheticRun]:
    """The scenario's runs whose population is still there (not purged, and made someone or
    still going): what a second Run would sit beside, and what Reset purges. Reads only."""
    going = (SyntheticRun.Status.QUEUED, SyntheticRun.Status.RUNNING)
    runs = scenario.runs.filter(kind=SyntheticRun.Kind.GENERATE, purged_at__isnull=True)
    made = Q(patients_created__gt=0) | Q(therapists_created__gt=0) | Q(status__in=going)
    return list(runs.filter(made).order_by("-started_at"))


def scenario_run(
    *,
    scenario: Scenario,
    started_by: Starter,
    progress: ProgressListener | None = None,
    credentials: Callable[[Credential], None] | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Run ``scenario`` once; the run is recorded as the scenario's. Raises as ``population_generate``."""
    return population_generate(
        request=scenario_request(scenario),
        scenario=scenario,
        started_by=started_by,
        progress=progress,
        credentials=credentials,
        stop=stop,
    )


def scenario_reset(
    *,
    scenario: Scenario,
    started_by: Starter,
    progress: ProgressListener | None = None,
    stop: threading.Event | None = None,
) -> ResetReport:
    """Purge the scenario's earlier runs, then run it again — unless the purge left anything.

    Writes: what ``scenario_runs_purge`` and ``population_generate`` write. When the purge could
    not remove everything (users left alone, blocked, errors), nothing new is generated and
    ``reason`` says why: a reset never ends with two populations of one scenario.
    """
    scenario_validate(scenario)  # refuse before deleting anything
    purge, reason = scenario_runs_purge(scenario=scenario, stop=stop)
    if reason:
        return ResetReport(purge=purge, run=None, reason=reason)
    run = scenario_run(scenario=scenario, started_by=started_by, progress=progress, stop=stop)
    return ResetReport(purge=purge, run=run)


def scenario_runs_purge(
    *, scenario: Scenario, stop: threading.Event | None = None
) -> tuple[PurgeReport, str]:
    """Purge the scenario's earlier runs (``runs_purge``: one in progress is cancelled first);
    return the merged report and why a new run must not follow ("" when it may).

    Writes what ``runs_purge`` writes; raises what it raises.
    """
    earlier = list(scenario.runs.filter(kind=SyntheticRun.Kind.GENERATE).values_list("id", flat=True))
    purge = _merged([runs_purge(run=run_id, stop=stop) for run_id in earlier])
    if purge.left_alone or purge.blocked or purge.errors:
        return purge, "earlier runs were not fully purged; nothing generated"
    return purge, ""


def scenario_export(scenario: Scenario) -> str:
    """The scenario as a TOML document (``scenario_import`` reads it back identically)."""
    data: dict[str, Any] = {field: getattr(scenario, field) for field in FIELDS}
    if scenario.seed is not None:
        data["seed"] = scenario.seed
    if scenario.end_date is not None:
        data["end_date"] = scenario.end_date
    if scenario.mix:
        data["mix"] = mix_text(mix_parse(scenario.mix))
    return tomli_w.dumps({"scenario": data})


def scenario_import(text: str, *, replace: bool = False) -> Scenario:
    """Create (or with ``replace``, overwrite) the scenario a TOML document describes.

    Raises InvalidRequestError (one line) for a document that is not a scenario, an unknown
    key or table, a NUL character in a text field, a scenario that could not run, or an existing
    name without ``replace``.
    """
    document = _toml_read(text)
    data = document.get("scenario")
    if not isinstance(data, dict) or not data.get("name"):
        raise InvalidRequestError("the file has no [scenario] table with a name", field="file")
    outside = set(document) - {"scenario"}
    if outside:
        raise InvalidRequestError(
            f"unknown table(s) or key(s) outside [scenario]: {', '.join(sorted(outside))}", field="file"
        )
    for key in ("name", "description", "pattern", "locale"):
        if key in data and not isinstance(data[key], str):
            raise InvalidRequestError(f"{key} must be text, got {data[key]!r:.60}", field="file")
        if key in data and "\x00" in data[key]:  # PostgreSQL text cannot hold it
            raise InvalidRequestError(f"{key} must not contain a NUL character (\\u0000)", field="file")
    unknown = set(data) - {*FIELDS, "seed", "end_date", "mix"}
    if unknown:
        raise InvalidRequestError(f"unknown key(s) in [scenario]: {', '.join(sorted(unknown))}", field="file")
    end_date = data.get("end_date")
    if end_date is not None and not isinstance(end_date, dt.date):
        raise InvalidRequestError(f"end_date must be a date (YYYY-MM-DD), got {end_date!r}", field="file")
    values = {key: data[key] for key in FIELDS if key in data and key != "name"}
    values.update(
        seed=data.get("seed"), end_date=end_date, mix=mix_parse(data["mix"]) if data.get("mix") else {}
    )
    scenario = Scenario(name=data["name"], **values)
    scenario_validate(scenario)
    with transaction.atomic():
        existing = Scenario.objects.select_for_update().filter(name=scenario.name).first()
        if existing is not None and not replace:
            raise InvalidRequestError(
                f"a scenario named {scenario.name!r} exists; import with replace to overwrite it",
                field="file",
            )
        if existing is not None:
            scenario.pk, scenario.built_in, scenario.created_at = (
                existing.pk,
                existing.built_in,
                existing.created_at,
            )
            scenario._state.adding = False
        try:
            scenario.full_clean(exclude=["built_in"])
        except ValidationError as exc:
            field, problems = next(iter(exc.message_dict.items()))
            raise InvalidRequestError(f"{field}: {problems[0]}", field="file") from None
        scenario.save()
    return scenario


def _toml_read(text: str) -> dict[str, Any]:
    """The TOML document ``text``: a UTF-8 byte order mark (Notepad, PowerShell) is skipped.
    InvalidRequestError, one line, for anything that is not a small TOML document: over
    ``SCENARIO_MAX_CHARS``, nested too deep for the parser, a number too long to read."""
    text = text.removeprefix("\ufeff")
    if len(text) > SCENARIO_MAX_CHARS:
        raise InvalidRequestError(
            f"the file has {len(text):,} characters; a scenario is at most {SCENARIO_MAX_CHARS:,} characters",
            field="file",
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequestError(f"not a TOML document: {exc}", field="file") from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table (a scenario nests two deep).
        raise InvalidRequestError(
            "not a scenario: arrays or tables nested too deep to read", field="file"
        ) from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise InvalidRequestError(
            "not a scenario: a value cannot be read (a number with thousands of digits)", field="file"
        ) from None


def _merged(reports: list[PurgeReport]) -> PurgeReport:
    if not reports:
        return PurgeReport(
            dry_run=False, runs=[], users_deleted=0, patients_deleted=0, therapists_deleted=0,
            checkins_deleted=0, intents_resolved=0, skipped_real=[], errors=[],
        )  # fmt: skip
    return PurgeReport(
        dry_run=False,
        runs=sorted({r for report in reports for r in report.runs}),
        users_deleted=sum(r.users_deleted for r in reports),
        patients_deleted=sum(r.patients_deleted for r in reports),
        therapists_deleted=sum(r.therapists_deleted for r in reports),
        checkins_deleted=sum(r.checkins_deleted for r in reports),
        intents_resolved=sum(r.intents_resolved for r in reports),
        skipped_real=sorted({s for r in reports for s in r.skipped_real}),
        errors=[e for r in reports for e in r.errors],
        left_alone=[e for r in reports for e in r.left_alone],
        left_real=[e for r in reports for e in r.left_real],
        blocked=[e for r in reports for e in r.blocked],
        deleted_user_ids=[e for r in reports for e in r.deleted_user_ids],
    )


def scenarios_builtin_ensure() -> list[Scenario]:
    """Create the built-in scenarios that are missing (a flushed or new database); never overwrite."""
    created = []
    for values in BUILT_IN:
        scenario, was_created = Scenario.objects.get_or_create(
            name=values["name"], defaults={**values, "built_in": True}
        )
        if was_created:
            created.append(scenario)
    return created
