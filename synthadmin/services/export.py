"""Export synthetic check-ins for model evaluation: one flat row per check-in, streamed.

Each row: the patient, the run that generated it, its pattern, the date, the **ground-truth
mood state of that day** (``services.patient_truth``) and every payload key of the six JSONB
columns as a named column (``synthadmin.fieldlabels``: ``<section>_<key>``, units and ranges in
the README's data dictionary, ``export_columns()``).

Which check-ins: ``run=None`` — every check-in of every patient synthadmin generated whose
profile is still a test patient; a generate run — every check-in of its patients (days added
later by "Add check-in days" included); an extend run — exactly the check-ins it added.

Constant memory whatever the size: the check-ins are read through a server-side cursor
(``QuerySet.iterator(chunk_size=...)``, inside a transaction so PostgreSQL need not
materialise a held cursor), each JSON key extracted in SQL (no payload is parsed in Python),
ordered by patient and date so that only the current patient's truth is held; output is
produced in blocks of text for a file or a ``StreamingHttpResponse``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TextIO

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KT

from checkins.models import CheckIn
from synthadmin.exceptions import InvalidRequestError
from synthadmin.fieldlabels import FIELD_LABELS
from synthadmin.models import LIVE_STATES, CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.selectors import profiles_synthetic
from synthadmin.services.additions import dates_of
from synthadmin.services.patient_truth import patient_truth_get

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "jsonl")
CHUNK_SIZE = 5000
#: Rows per block of text handed to the writer / the HTTP response.
BLOCK_ROWS = 1000


@dataclass(frozen=True)
class ExportColumn:
    """One column of the export, for the header and the data dictionary."""

    name: str
    unit: str
    range: str
    meaning: str


_LEADING: tuple[ExportColumn, ...] = (
    ExportColumn("patient_id", "uuid", "", "the patient's id (auth.users, public.profiles)"),
    ExportColumn("run_id", "uuid", "", "the synthetic run that generated the patient"),
    ExportColumn("pattern", "text", "stable, cycling, ...", "the mood pattern the patient was made with"),
    ExportColumn("checkin_date", "date", "YYYY-MM-DD", "the day of the check-in"),
    ExportColumn(
        "state",
        "text",
        "euthymic, depressed_mild, depressed_severe, hypomanic, manic, mixed",
        "ground-truth mood state of that day (empty if unknown)",
    ),
)


def export_columns() -> list[ExportColumn]:
    """Every column of the export, in order."""
    return [
        *_LEADING,
        *(
            ExportColumn(f.flat_name, f.unit, f.range, f"{f.label} ({f.column}.{f.key})")
            for f in FIELD_LABELS
        ),
    ]


def checkins_export_chunks(
    *, run: uuid.UUID | None, fmt: ExportFormat, chunk_size: int = CHUNK_SIZE
) -> Iterator[str]:
    """The export as blocks of text (CSV with a header row, or one JSON object per line).

    Raises InvalidRequestError (before yielding anything) for an unknown format or run.
    """
    if fmt not in FORMATS:
        choices = ", ".join(FORMATS)
        raise InvalidRequestError(f"unknown format {fmt!r}; choose one of {choices}", field="format")
    checkins, extend_run = _scope(run)
    return _blocks(checkins, extend_run, fmt, chunk_size)


def checkins_export_write(
    *, run: uuid.UUID | None, fmt: ExportFormat, out: TextIO, chunk_size: int = CHUNK_SIZE
) -> int:
    """Write the export to ``out``; returns the number of check-in rows written."""
    rows = 0
    for block in checkins_export_chunks(run=run, fmt=fmt, chunk_size=chunk_size):
        out.write(block)
        rows += block.count("\n")
    return rows - (1 if fmt == "csv" else 0)


def _scope(run: uuid.UUID | None) -> tuple[QuerySet[CheckIn], uuid.UUID | None]:
    """The check-ins to export, and the extend run whose added dates alone count (if any)."""
    synthetic = CheckIn.objects.filter(user_id__in=profiles_synthetic().values("id"))
    if run is None:
        users = SyntheticUser.objects.filter(state__in=LIVE_STATES, role=SyntheticUser.Role.PATIENT)
        return synthetic.filter(user_id__in=users.values("user_id")), None
    try:
        found = SyntheticRun.objects.get(pk=uuid.UUID(str(run)))
    except (ValueError, SyntheticRun.DoesNotExist):
        raise InvalidRequestError(f"no synthetic run {run}", field="run") from None
    if found.kind == SyntheticRun.Kind.EXTEND:
        additions = CheckinAddition.objects.filter(run=found, removed_at__isnull=True)
        return synthetic.filter(user_id__in=additions.values("user_id")), found.pk
    users = SyntheticUser.objects.filter(run=found, state__in=LIVE_STATES, role=SyntheticUser.Role.PATIENT)
    return synthetic.filter(user_id__in=users.values("user_id")), None


def _blocks(
    checkins: QuerySet[CheckIn], extend_run: uuid.UUID | None, fmt: str, chunk_size: int
) -> Iterator[str]:
    columns = [c.name for c in export_columns()]
    kinds = [f.kind for f in FIELD_LABELS]
    rows = (
        checkins.order_by("user_id", "checkin_date")
        .annotate(**{f"_{i}": KT(f"{f.column}__{f.key}") for i, f in enumerate(FIELD_LABELS)})
        .values_list("user_id", "checkin_date", *(f"_{i}" for i in range(len(FIELD_LABELS))))
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(columns)
    current: uuid.UUID | None = None
    states: dict[dt.date, str] = {}
    run_id = pattern = ""
    keep: set[dt.date] | None = None
    pending = 0
    # One transaction for the whole read: the server-side cursor then needs no WITH HOLD
    # (which would make PostgreSQL copy the whole result before the first row).
    with transaction.atomic():
        for user_id, day, *values in rows.iterator(chunk_size=chunk_size):
            if user_id != current:
                current = user_id
                truth = patient_truth_get(user_id=user_id)
                states = truth.state_by_day() if truth is not None else {}
                run_id = str(truth.run_id) if truth is not None and truth.run_id else ""
                pattern = truth.pattern if truth is not None else ""
                keep = _added_dates(extend_run, user_id) if extend_run is not None else None
            if keep is not None and day not in keep:
                continue
            state = states.get(day, "")
            if fmt == "csv":
                writer.writerow([user_id, run_id, pattern, day.isoformat(), state, *values])
            else:
                record = dict(
                    zip(
                        columns,
                        [
                            str(user_id),
                            run_id,
                            pattern,
                            day.isoformat(),
                            state or None,
                            *(_typed(v, k) for v, k in zip(values, kinds, strict=True)),
                        ],
                        strict=True,
                    )
                )
                buffer.write(json.dumps(record, separators=(",", ":")) + "\n")
            pending += 1
            if pending >= BLOCK_ROWS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                pending = 0
    if buffer.tell():
        yield buffer.getvalue()


def _added_dates(run: uuid.UUID, user_id: uuid.UUID) -> set[dt.date]:
    """The dates extend run ``run`` added to ``user_id`` (still in place)."""
    days: set[dt.date] = set()
    for addition in CheckinAddition.objects.filter(run_id=run, user_id=user_id, removed_at__isnull=True):
        days.update(dates_of(addition.days))
    return days


def _typed(value: str | None, kind: str) -> float | int | None:
    if value is None:
        return None
    return float(value) if kind == "tenths" else int(float(value))
