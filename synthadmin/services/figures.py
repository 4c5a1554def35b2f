"""A run's numbers: the one computation behind every page and command that shows them.

``run_figures`` gives what a run was asked for — users, patients per pattern, and the check-ins
it will write, estimated by ``preview.population_estimate`` from its stored parameters, so the
run page says the number its Preview said — and what its ledger says it made (``run_counts``
while it runs; the counts recorded when it ended, which a purge keeps, once it has). The
Preview, the run page, its live progress, the Run filter, ``list_runs`` (table and ``--json``)
read it; ``--dry-run`` and the Preview read the same estimate before a run exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Count

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.ledger import run_counts
from synthadmin.services.preview import patients_by_pattern, population_estimate
from synthadmin.services.requests import PARAMETER_LABELS, GenerationParams

Status = SyntheticRun.Status


@dataclass(frozen=True)
class RunFigures:
    """What a run was asked for and what it made (``run_figures``); ``as_dict`` is its JSON."""

    #: Users asked for.
    patients: int
    therapists: int
    #: Patients asked for, per pattern (the mix's exact counts; one pattern: all of them).
    patterns_asked: dict[str, int]
    #: Check-ins: once the run has ended, those it made; before, those it will make — exact
    #: when ``checkins_exact``, else the Preview's estimate.
    checkins: int
    checkins_exact: bool
    finished: bool
    patients_created: int
    therapists_created: int
    checkins_created: int
    #: Users none of whose attempts completed (a user a stop kept from being tried is none).
    users_failed: int
    #: Patients created, per pattern.
    patterns_created: dict[str, int] = field(default_factory=dict)

    @property
    def users(self) -> int:
        return self.patients + self.therapists

    @property
    def users_created(self) -> int:
        return self.patients_created + self.therapists_created

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_figures(run: SyntheticRun, *, read_ledger: bool = True) -> RunFigures:
    """The numbers of ``run`` (see the module docstring). Reads the ledger (indexed counts);
    writes nothing. Without ``read_ledger`` (a list that labels many runs in a fixed number of
    statements) only the run's row: the counts it recorded, and no patients created per pattern
    unless the run made every patient it was asked for."""
    params = run.parameters or {}
    finished = run.status not in (Status.QUEUED, Status.RUNNING)
    if finished or not read_ledger:
        made = (run.patients_created, run.therapists_created, run.checkins_created, run.users_failed)
    else:
        counts = run_counts(run, final=False)
        made = (counts.patients, counts.therapists, counts.checkins, counts.failed)
    generation = run_parameters(params) if run.kind == SyntheticRun.Kind.GENERATE else None
    asked = patients_by_pattern(generation) if generation is not None else _patterns_stored(params)
    if finished:
        checkins, exact = made[2], True
    elif generation is not None:
        estimate = population_estimate(generation)
        checkins, exact = estimate.checkins, estimate.checkins_exact
    elif "checkins_expected" in params:  # up to today: what the run planned
        checkins, exact = int(params["checkins_expected"] or 0), False
    else:  # days added before each patient's first check-in: days x adherence each, about
        days, adherence = int(params.get("checkin_days") or 0), float(params.get("adherence") or 1.0)
        checkins, exact = round(int(params.get("patients") or 0) * days * adherence), False
    if finished and made[0] == sum(asked.values()):
        created = asked
    else:
        created = _patterns_created(run, params) if read_ledger else {}
    return RunFigures(
        patients=int(params.get("patients") or 0),
        therapists=int(params.get("therapists") or 0),
        patterns_asked=asked,
        checkins=checkins,
        checkins_exact=exact,
        finished=finished,
        patients_created=made[0],
        therapists_created=made[1],
        checkins_created=made[2],
        users_failed=made[3],
        patterns_created=created,
    )


def run_parameters(params: dict[str, Any]) -> GenerationParams | None:
    """The validated parameters a generate run stored (``GenerationParams.as_parameters``), or
    None when they are not whole (a run of an older version)."""
    try:
        mix = params.get("mix")
        return GenerationParams(
            patients=int(params["patients"]),
            therapists=int(params.get("therapists") or 0),
            checkin_days=int(params["checkin_days"]),
            pattern=str(params["pattern"]),
            seed=int(params["seed"]),
            end_date=dt.date.fromisoformat(str(params["end_date"])),
            adherence=float(params["adherence"]),
            locale=str(params.get("locale") or ""),
            concurrency=int(params.get("concurrency") or 1),
            mix={str(k): int(v) for k, v in mix.items()} if isinstance(mix, dict) and mix else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def patterns_text(counts: dict[str, int]) -> str:
    """Patients per pattern in words, largest first: ``stable 360 · cycling 150 · manic 1,200``."""
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return " · ".join(f"{pattern.replace('_', ' ')} {count:,}" for pattern, count in ordered if count)


def parameters_rows(params: dict[str, Any]) -> list[tuple[str, str]]:
    """A run's stored parameters as (label, value) rows a person reads: the labels of the forms
    (``PARAMETER_LABELS``), counts with thousands separators, the mix as patients per pattern,
    adherence as a percentage; the selected patients' ids as their number."""
    rows: list[tuple[str, str]] = []
    order = list(PARAMETER_LABELS)  # the forms' order (the database keeps JSON keys its own way)
    for key, value in sorted(
        params.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])
    ):
        label = PARAMETER_LABELS.get(key, key.replace("_", " ").capitalize())
        if key == "patient_ids" and isinstance(value, list):
            continue  # their count is the Patients row
        if key in ("mix", "patients_by_pattern") and isinstance(value, dict):
            text = patterns_text({str(k): int(v) for k, v in value.items()}) if value else "—"
        elif key == "adherence" and isinstance(value, int | float) and not isinstance(value, bool):
            text = f"{value:.0%} of days with a check-in"
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, int) and key != "seed":
            text = f"{value:,}"
        elif value is None or value == "":
            text = "—"
        elif isinstance(value, dict | list):
            text = (
                ", ".join(f"{k} {v}" for k, v in value.items())
                if isinstance(value, dict)
                else ", ".join(map(str, value))
            )
        else:
            text = str(value).replace("_", " ") if key == "pattern" else str(value)
        rows.append((label, text))
    if "mix" in params and params.get("mix"):
        rows = [row for row in rows if row[0] != PARAMETER_LABELS["pattern"]]  # the mix replaces it
    return rows


def _patterns_stored(params: dict[str, Any]) -> dict[str, int]:
    """An extend run's patients per pattern, as it recorded them (or all of its one pattern)."""
    stored = params.get("patients_by_pattern")
    if isinstance(stored, dict):
        return {str(k): int(v) for k, v in stored.items()}
    pattern, patients = params.get("pattern"), int(params.get("patients") or 0)
    return {str(pattern): patients} if pattern and patients else {}


def _patterns_created(run: SyntheticRun, params: dict[str, Any]) -> dict[str, int]:
    """Patients created per pattern, from the ground truth of the run's complete entries (kept
    when they are purged)."""
    if run.kind != SyntheticRun.Kind.GENERATE:
        return _patterns_stored(params) if run.status == Status.SUCCEEDED else {}
    rows = (
        run.users.filter(
            role=SyntheticUser.Role.PATIENT,
            state__in=(SyntheticUser.State.COMPLETE, SyntheticUser.State.PURGED),
            ground_truth__has_key="pattern",
        )
        .values_list("ground_truth__pattern")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {str(pattern): int(n) for pattern, n in rows}


__all__ = ["RunFigures", "parameters_rows", "patterns_text", "run_figures", "run_parameters"]
