"""What the admin's home page tells staff without a shell: synthetic data, runs in progress,
workers alive (``site_overview``; reads only).

Cheap whatever the size of the app's tables: synthadmin's own small tables are counted (the
runs; the ledger's complete entries of runs not purged, by its ``(run, state)`` index, while
the runs say they hold at most ``EXACT_USERS_MAX`` users), the rest is estimated — the runs'
own counters for synthetic check-ins, PostgreSQL's ``pg_class.reltuples`` for the whole
``check_ins`` and ``profiles`` tables. Nothing scans a table of the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum

from synthadmin.models import SyntheticRun, SyntheticUser, TaskWorker
from synthadmin.services.workers import WORKER_COMMAND, workers_alive

#: Above this many users in the live runs, users are estimated from the runs' counters.
EXACT_USERS_MAX = 20_000
#: Runs in progress listed by name (the rest are counted).
RUNS_LISTED = 10

Status = SyntheticRun.Status
IN_PROGRESS = (Status.QUEUED, Status.RUNNING)


@dataclass(frozen=True)
class Figure:
    """A count and whether it is exact (False: an estimate, shown as "about")."""

    value: int | None
    exact: bool


@dataclass(frozen=True)
class SiteOverview:
    """The home page's panel."""

    patients: Figure
    therapists: Figure
    checkins: Figure
    """Synthetic check-ins: what the runs not purged wrote (an estimate: single users deleted
    since are not subtracted)."""
    checkins_table: Figure
    """Every row of ``public.check_ins``, real and synthetic (PostgreSQL's estimate)."""
    profiles_table: Figure
    runs_in_progress: list[SyntheticRun]
    runs_in_progress_total: int
    runs_queued: int
    workers: list[TaskWorker]
    inline_max: int
    worker_command: str = WORKER_COMMAND

    @property
    def queued_without_worker(self) -> bool:
        return self.runs_queued > 0 and not self.workers


def site_overview() -> SiteOverview:
    """Synthetic data, runs in progress and workers alive, from a handful of cheap queries."""
    live_runs = SyntheticRun.objects.filter(purged_at__isnull=True)
    totals = live_runs.aggregate(
        patients=Sum("patients_created", filter=Q(kind=SyntheticRun.Kind.GENERATE), default=0),
        therapists=Sum("therapists_created", filter=Q(kind=SyntheticRun.Kind.GENERATE), default=0),
        checkins=Sum("checkins_created", default=0),
    )
    if totals["patients"] + totals["therapists"] <= EXACT_USERS_MAX:
        # The run ids first (a small table), so the ledger is read by its (run, state) index.
        run_ids = list(live_runs.values_list("id", flat=True))
        complete = SyntheticUser.objects.filter(run_id__in=run_ids, state=SyntheticUser.State.COMPLETE)
        by_role = {row["role"]: row["n"] for row in complete.values("role").annotate(n=Count("id"))}
        patients = Figure(by_role.get(SyntheticUser.Role.PATIENT, 0), exact=True)
        therapists = Figure(by_role.get(SyntheticUser.Role.THERAPIST, 0), exact=True)
    else:
        patients = Figure(totals["patients"], exact=False)
        therapists = Figure(totals["therapists"], exact=False)
    in_progress = live_runs.filter(status__in=IN_PROGRESS)
    return SiteOverview(
        patients=patients,
        therapists=therapists,
        checkins=Figure(totals["checkins"], exact=False),
        checkins_table=_estimated_rows("public", "check_ins"),
        profiles_table=_estimated_rows("public", "profiles"),
        runs_in_progress=list(in_progress.order_by("-started_at")[:RUNS_LISTED]),
        runs_in_progress_total=in_progress.count(),
        runs_queued=in_progress.filter(status=Status.QUEUED).count(),
        workers=workers_alive(),
        inline_max=settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS,
    )


def _estimated_rows(schema: str, table: str) -> Figure:
    """PostgreSQL's estimate of a table's rows (``pg_class.reltuples``; None before the table
    was first analysed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            [schema, table],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return Figure(None, exact=False)
    return Figure(int(row[0]), exact=False)


__all__ = ["EXACT_USERS_MAX", "Figure", "SiteOverview", "site_overview"]
