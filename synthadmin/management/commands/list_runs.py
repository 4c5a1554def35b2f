"""``python manage.py list_runs``: synthadmin's runs, newest first (a thin adapter).

Runs whose process died without finishing (kill -9, a lost machine) are marked ``interrupted``
first (``ledger.runs_reap_interrupted``); ``purge_synthetic --run ID`` finishes them.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from rich.table import Table

from synthadmin.management.base import SynthadminCommand
from synthadmin.management.output import render
from synthadmin.models import SyntheticRun
from synthadmin.selectors import run_display_status, runs_recent
from synthadmin.services.figures import patterns_text, run_figures
from synthadmin.services.ledger import runs_reap_interrupted

STATUSES = [*SyntheticRun.Status.values, "purged"]


class Command(SynthadminCommand):
    help = "List synthadmin's runs (newest first); runs whose process died are shown as interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status", default=None, help=f"only runs with this status: {', '.join(STATUSES)}"
        )
        parser.add_argument("--limit", default="20", help="how many runs (default 20)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        status = options["status"]
        if status is not None and status not in STATUSES:
            raise CommandError(f"--status: unknown status {status!r}; use one of {', '.join(STATUSES)}")
        limit = options["limit"]
        if not (isinstance(limit, str) and limit.isascii() and limit.isdigit() and 1 <= int(limit) <= 10_000):
            raise CommandError(f"--limit: a whole number from 1 to 10,000, got {limit!r}")
        reaped = runs_reap_interrupted()
        runs = list(runs_recent(status=status, limit=int(limit)))
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(run) for run in runs], indent=2))
            return
        if options["verbosity"] >= 1 and reaped:
            self.stderr.write(f"{len(reaped)} run(s) whose process died are now marked interrupted")
        if not runs:
            self.stdout.write("No runs.")
            return
        table = Table(title=f"Synthetic runs (times in {timezone.get_current_timezone_name()})")
        for column in (
            "run",
            "kind",
            "status",
            "started",
            "by",
            "patients",
            "by pattern",
            "therapists",
            "check-ins",
            "failed",
        ):
            table.add_column(column)
        for run in runs:
            figures = run_figures(run)  # the numbers of the run page and the Preview
            by_pattern = figures.patterns_created if figures.finished else figures.patterns_asked
            table.add_row(
                str(run.id),
                run.kind_label,
                run_display_status(run),
                timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M"),
                run.started_by,
                f"{figures.patients_created:,}",
                patterns_text(by_pattern).replace(" · ", "\n") if len(by_pattern) > 1 else "",
                f"{figures.therapists_created:,}",
                f"{figures.checkins_created:,}",
                f"{figures.users_failed:,}",
            )
        self.stdout.write(render(table, width=160))


def _as_dict(run: SyntheticRun) -> dict[str, Any]:
    figures = run_figures(run)
    return {
        "id": str(run.id),
        "kind": run.kind,
        "kind_label": run.kind_label,
        "status": run_display_status(run),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "started_by": run.started_by,
        "patients_created": figures.patients_created,
        "therapists_created": figures.therapists_created,
        "checkins_created": figures.checkins_created,
        "users_failed": figures.users_failed,
        "patients_by_pattern": figures.patterns_created,
        "asked": {
            "patients": figures.patients,
            "therapists": figures.therapists,
            "patients_by_pattern": figures.patterns_asked,
            "checkins": figures.checkins,
            "checkins_exact": figures.checkins_exact,
        },
        "error": run.error_summary,
        "owner": {"host": run.owner_host, "pid": run.owner_pid},
    }
