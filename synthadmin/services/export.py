"""Export synthetic check-ins for model evaluation: one flat row per check-in, streamed.

Each row: the patient, the run that generated it, its pattern, the date, the **ground-truth
mood state of that day** (``services.patient_truth``) and every payload key of the six JSONB
columns as a named column (``synthadmin.fieldlabels``: ``<section>_<key>``, units and ranges in
the data dictionary, ``export_columns()``). CSV cells follow ``synthadmin.csvsafe``.

Which check-ins: ``run=None`` — every check-in of every patient synthadmin generated whose
profile is still a test patient; a generate run — every check-in of its patients (days added
later by "Add check-in days" included); an extend run — exactly the check-ins it added.

**No transaction waits on the reader.** The rows are read in pages, each page its own short
statements in autocommit (no transaction stays open between them), keyset-paged: patients in
batches by id (ledger entries, with their runs), then their check-ins ordered by
``(user_id, checkin_date)`` from where the last page ended, ``chunk_size`` rows at most. While
the reader (a slow download, a paused pipe) catches up, the session is idle *outside* any
transaction, so ``idle_in_transaction_session_timeout`` never ends it and no snapshot is held.
Per batch of patients: one query for the batch (with its runs), one for their additions (the
ground truth of days added later), one per page of rows — a few round trips per block of rows,
not one per patient. The batch size follows the rows a patient has (about ``chunk_size`` rows
per batch). Memory stays flat: one page of rows and one batch of truths.

**Consistency.** Pages are read at different moments, so the rows must not change meanwhile:
the export holds the runs it reads (``services.run_locks.export_hold``), which a purge or an
extend of them must also take — the second of the two is refused. What else may change a
patient's rows is a run still in progress: the export then says it is partial
(``CheckinsExport.partial``), and holds the rows written by the time each page was read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Literal, TextIO

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT

from checkins.models import CheckIn
from synthadmin.csvsafe import csv_writer
from synthadmin.exceptions import InvalidRequestError
from synthadmin.fieldlabels import FIELD_LABELS
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.selectors import profiles_synthetic, therapist_id_of
from synthadmin.services.additions import dates_of
from synthadmin.services.patient_truth import PatientTruth, patient_truths_of
from synthadmin.services.run_locks import RunHold, export_hold
from synthadmin.target import target_get

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "jsonl")
#: Rows per page: one query.
CHUNK_SIZE = 5000
#: Rows per block of text handed to the writer / the HTTP response.
BLOCK_ROWS = 1000
#: Patients per batch, at most (a batch is one query for them and one for their additions).
MAX_BATCH_PATIENTS = 1000
#: Runs in these states are still writing rows: an export of them is partial.
IN_PROGRESS = (SyntheticRun.Status.QUEUED, SyntheticRun.Status.RUNNING)

#: A batch of patients: their truths and, for an extend run, the dates it added to each.
_Batch = tuple[dict[uuid.UUID, PatientTruth], dict[uuid.UUID, set[dt.date]] | None, dict[uuid.UUID, str]]


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
    ExportColumn(
        "therapist_id",
        "uuid",
        "",
        "the patient's therapist's id, through the database's link (empty if none)",
    ),
    ExportColumn("pattern", "text", "stable, cycling, ...", "the mood pattern the patient was made with"),
    ExportColumn("checkin_date", "date", "YYYY-MM-DD", "the day of the check-in"),
    ExportColumn(
        "day_index",
        "days",
        "0 or more",
        "days since the first day of the patient's generated history (0 = that day; empty if unknown)",
    ),
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
    *,
    run: uuid.UUID | None,
    fmt: ExportFormat,
    chunk_size: int = CHUNK_SIZE,
    patients: QuerySet[Any, Any] | None = None,
    checkins: QuerySet[CheckIn] | None = None,
) -> CheckinsExport:
    """The export as blocks of text (CSV with a header row, or one JSON object per line): an
    iterator that holds the runs it reads until it ends or is closed (``CheckinsExport``).

    ``patients`` (a query of profile ids) keeps the check-ins of those patients; ``checkins``
    (a filtered list of the admin's) keeps those check-ins: either way synthetic patients only,
    as always.

    Raises, before anything is read or held: InvalidRequestError for an unknown format or run;
    ``run_locks.RunBusyError`` when a purge or an extend holds one of its runs.
    """
    if fmt not in FORMATS:
        choices = ", ".join(FORMATS)
        raise InvalidRequestError(f"unknown format {fmt!r}; choose one of {choices}", field="format")
    scope = replace(_scope(run), patients=patients, checkins=checkins)
    hold = export_hold(run=scope.run)
    return CheckinsExport(scope, fmt, chunk_size, hold)


def checkins_export_write(
    *, run: uuid.UUID | None, fmt: ExportFormat, out: TextIO, chunk_size: int = CHUNK_SIZE
) -> int:
    """Write the export to ``out``; returns the number of check-in rows written.

    Raises what ``checkins_export_chunks`` raises, and any database error part way (what was
    written to ``out`` is then incomplete: the caller's to discard).
    """
    with checkins_export_chunks(run=run, fmt=fmt, chunk_size=chunk_size) as export:
        for block in export:
            out.write(block)
    return export.rows


class CheckinsExport(Iterator[str]):
    """An export being read: blocks of text, each at most ``BLOCK_ROWS`` rows.

    ``rows`` counts the check-ins handed out so far; ``complete`` is True once the last block
    was; ``partial`` says why the file is a partial picture ("" when it is not: no run it
    covers was in progress when it began). An error part way is raised as it is (the blocks
    already handed out are then incomplete). The run locks go at the end, at ``close()`` (a
    ``StreamingHttpResponse`` calls it) or on leaving a ``with`` block, whichever comes first;
    callbacks given to ``when_closed`` are called then, once.
    """

    def __init__(self, scope: _Scope, fmt: str, chunk_size: int, hold: RunHold) -> None:
        self.scope = scope
        self.fmt = fmt
        self.rows = 0
        self.complete = False
        self.partial = scope.partial()
        self._hold = hold
        self._blocks = _blocks(self, chunk_size)
        self._closers: list[Callable[[CheckinsExport], None]] = []
        self._closed = False

    def __next__(self) -> str:
        try:
            return next(self._blocks)
        except StopIteration:
            self.complete = True
            self.close()
            raise
        except BaseException:
            self.close()
            raise

    def when_closed(self, callback: Callable[[CheckinsExport], None]) -> None:
        """Call ``callback(export)`` when the export is closed (complete or not)."""
        self._closers.append(callback)

    def close(self) -> None:
        """Stop reading and let the run locks go (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._blocks.close()
        self._hold.release()
        for callback in self._closers:
            callback(self)

    def __enter__(self) -> CheckinsExport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class _Scope:
    """What an export covers: every run (``run`` None), a generate run, or an extend run."""

    run: SyntheticRun | None
    #: Profile ids whose check-ins are kept (None: every patient of the scope).
    patients: QuerySet[Any, Any] | None = None
    #: The check-ins kept (None: every check-in of the scope's patients).
    checkins: QuerySet[CheckIn] | None = None

    @property
    def extend(self) -> bool:
        return self.run is not None and self.run.kind == SyntheticRun.Kind.EXTEND

    def partial(self) -> str:
        """Why the export is partial ("" when it is not): runs it covers still in progress."""
        if self.run is not None:  # read a moment ago, by _scope
            if self.run.status in IN_PROGRESS:
                return f"run {self.run.pk} is still {self.run.status}: the rows written so far"
            return ""
        going = SyntheticRun.objects.filter(status__in=IN_PROGRESS).count()
        if going:
            return f"{going} run(s) still in progress: the rows written so far"
        return ""

    def batch(self, *, after: uuid.UUID | None, size: int) -> list[SyntheticUser]:
        """The next ``size`` patients by id after ``after``: their ``complete`` ledger entries
        (one per patient, the latest), with their runs."""
        entries = SyntheticUser.objects.filter(
            state=SyntheticUser.State.COMPLETE, role=SyntheticUser.Role.PATIENT
        )
        if self.extend:
            added = CheckinAddition.objects.filter(run=self.run, removed_at__isnull=True)
            entries = entries.filter(user_id__in=added.values("user_id"))
        elif self.run is not None:
            entries = entries.filter(run=self.run)
        if self.patients is not None:
            entries = entries.filter(user_id__in=self.patients)
        if self.checkins is not None:
            entries = entries.filter(user_id__in=self.checkins.order_by().values("user_id"))
        if after is not None:
            entries = entries.filter(user_id__gt=after)
        therapist = therapist_id_of(target_get(), f'"{SyntheticUser._meta.db_table}"."user_id"')
        if therapist is not None:  # in the same statement: no round trip per batch for it
            entries = entries.annotate(linked_therapist_id=therapist)
        return list(entries.select_related("run").order_by("user_id", "-id").distinct("user_id")[:size])

    def added_dates(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[dt.date]]:
        """For an extend run: the dates it added to each of ``user_ids`` (still in place)."""
        days: dict[uuid.UUID, set[dt.date]] = {user_id: set() for user_id in user_ids}
        additions = CheckinAddition.objects.filter(
            run=self.run, user_id__in=user_ids, removed_at__isnull=True
        )
        for addition in additions:
            days[addition.user_id].update(dates_of(addition.days))
        return days


def _scope(run: uuid.UUID | None) -> _Scope:
    if run is None:
        return _Scope(None)
    try:
        return _Scope(SyntheticRun.objects.get(pk=uuid.UUID(str(run))))
    except (ValueError, SyntheticRun.DoesNotExist):
        raise InvalidRequestError(f"no synthetic run {run}", field="run") from None


def _rows(
    user_ids: list[uuid.UUID],
    after: tuple[uuid.UUID, dt.date] | None,
    limit: int,
    only: QuerySet[CheckIn] | None = None,
) -> list[tuple]:  # type: ignore[type-arg]
    """One page: up to ``limit`` check-ins of ``user_ids`` (profiles still test patients) after
    ``after`` in ``(user_id, checkin_date)`` order, each JSON key extracted in SQL; of ``only``
    when given."""
    checkins: QuerySet[CheckIn] = CheckIn.objects.filter(
        user_id__in=user_ids, user__in=profiles_synthetic().values("id")
    )
    if only is not None:
        checkins = checkins.filter(pk__in=only.order_by().values("pk"))
    if after is not None:
        user_id, day = after
        checkins = checkins.filter(Q(user_id__gt=user_id) | Q(user_id=user_id, checkin_date__gt=day))
    rows = (
        checkins.order_by("user_id", "checkin_date")
        .annotate(**{f"_{i}": KT(f"{f.column}__{f.key}") for i, f in enumerate(FIELD_LABELS)})
        .values_list("user_id", "checkin_date", *(f"_{i}" for i in range(len(FIELD_LABELS))))
    )
    return list(rows[:limit])


def _batches(export: CheckinsExport, chunk_size: int) -> Iterator[_Batch]:
    """Batches of patients (their truths; for an extend run, the dates it added), sized so a
    batch has about ``chunk_size`` rows."""
    size = max(1, min(MAX_BATCH_PATIENTS, chunk_size // 100))
    after: uuid.UUID | None = None
    patients = 0
    while entries := export.scope.batch(after=after, size=size):
        truths = patient_truths_of(entries)
        users = [entry.user_id for entry in entries]
        yield truths, export.scope.added_dates(users) if export.scope.extend else None, _therapists(entries)
        if len(entries) < size:
            return  # that was the last of them
        after = entries[-1].user_id
        patients += len(entries)
        size = max(1, min(MAX_BATCH_PATIENTS, chunk_size * patients // max(export.rows, 1)))


def _therapists(entries: list[SyntheticUser]) -> dict[uuid.UUID, str]:
    """Each patient's therapist id, as ``ExportScope.batch`` read it with the entries."""
    linked = ((entry.user_id, getattr(entry, "linked_therapist_id", None)) for entry in entries)
    return {user_id: str(therapist) for user_id, therapist in linked if therapist is not None}


def _blocks(export: CheckinsExport, chunk_size: int) -> Generator[str, None, None]:
    """The text of the export, a block per ``BLOCK_ROWS`` rows (the CSV header in the first)."""
    buffer = io.StringIO()
    write = _page_writer(export.fmt, buffer)
    if export.fmt == "csv":
        csv_writer(buffer, lineterminator="\n").writerow(c.name for c in export_columns())
    for truths, added, therapists in _batches(export, chunk_size):
        users = sorted(truths)
        after: tuple[uuid.UUID, dt.date] | None = None
        current: uuid.UUID | None = None
        states: dict[dt.date, str] = {}
        run_id = pattern = ""
        first: dt.date | None = None
        while True:
            page = _rows(users, after, chunk_size, export.scope.checkins)
            for start in range(0, len(page), BLOCK_ROWS):  # a block of text at a time: memory
                lines: list[list[str | None]] = []
                for user_id, day, *values in page[start : start + BLOCK_ROWS]:
                    if added is not None and day not in added[user_id]:
                        continue
                    if user_id != current:  # rows come by patient: each truth is expanded once
                        truth = truths[user_id]
                        current, states, pattern = user_id, truth.state_by_day(), truth.pattern
                        run_id = str(truth.run_id) if truth.run_id else ""
                        first = truth.start
                    index = str((day - first).days) if first is not None else ""
                    therapist = therapists.get(user_id, "")
                    lines.append(
                        [
                            str(user_id),
                            run_id,
                            therapist,
                            pattern,
                            day.isoformat(),
                            index,
                            states.get(day, ""),
                            *values,
                        ]
                    )
                write(lines)
                export.rows += len(lines)
                if buffer.tell():
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            if len(page) < chunk_size:
                break
            after = (page[-1][0], page[-1][1])
    if buffer.tell():
        yield buffer.getvalue()


def _page_writer(fmt: str, buffer: io.StringIO) -> Callable[[list[list[str | None]]], None]:
    """How a page of rows (patient, run, therapist, pattern, date, day index, state, then the
    payload values as text)
    goes into ``buffer``: CSV lines (``csvsafe``) or a JSON object per line, numbers as numbers."""
    columns = [c.name for c in export_columns()]
    kinds = [f.kind for f in FIELD_LABELS]
    leading = len(_LEADING)
    if fmt == "csv":
        return csv_writer(buffer, numbers=range(leading, len(columns)), lineterminator="\n").writerows

    def jsonl(lines: list[list[str | None]]) -> None:
        for line in lines:
            typed = [_typed(v, k) for v, k in zip(line[leading:], kinds, strict=True)]
            patient, run, therapist, pattern, day, index, state = line[:leading]
            record: list[str | float | int | None] = [patient, run, therapist or None, pattern, day]
            record += [int(index) if index else None, state or None, *typed]
            buffer.write(json.dumps(dict(zip(columns, record, strict=True)), separators=(",", ":")))
            buffer.write("\n")

    return jsonl


class Gzipped(Iterator[bytes]):
    """An export's blocks, gzip-compressed as they go (the file a ``.gz`` download holds);
    ``close()`` closes the export (its run locks go)."""

    def __init__(self, export: CheckinsExport) -> None:
        self.export = export
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
        self._done = False

    def __next__(self) -> bytes:
        while not self._done:
            try:
                block = next(self.export)
            except StopIteration:
                self._done = True
                return self._compressor.flush()
            compressed = self._compressor.compress(block.encode())
            if compressed:
                return compressed
        raise StopIteration

    def close(self) -> None:
        self.export.close()


def export_has_rows(run: SyntheticRun) -> bool:
    """Whether a download of ``run`` would hold any check-in: not purged, and a patient of it
    (a generate run) or an addition of it (an extend run) with check-ins in place. A queued
    run, a run that made none, a purged one: no (its file would be a header only)."""
    if run.purged_at is not None:
        return False
    if run.kind == SyntheticRun.Kind.EXTEND:
        return CheckinAddition.objects.filter(run=run, removed_at__isnull=True, checkins__gt=0).exists()
    return SyntheticUser.objects.filter(
        run=run, state=SyntheticUser.State.COMPLETE, role=SyntheticUser.Role.PATIENT, checkins__gt=0
    ).exists()


def _typed(value: str | None, kind: str) -> float | int | None:
    if value is None:
        return None
    return float(value) if kind == "tenths" else int(float(value))
