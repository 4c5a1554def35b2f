"""``python manage.py purge_synthetic``: delete synthetic users (a thin adapter over the service).

Only users created by synthadmin runs whose profiles carry ``is_test_patient = true`` are ever
deleted; real patients are never touched, whatever the options.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from synthadmin.auth import get_gateway
from synthadmin.exceptions import AuthRejectedError, ConfigurationError
from synthadmin.management.output import key_value_table, render
from synthadmin.management.preflight import target_preflight
from synthadmin.models import SyntheticRun
from synthadmin.services.purge import synthetic_purge
from synthadmin.services.reports import PurgeReport


class Command(BaseCommand):
    help = "Delete synthetic users (and their check-ins) of one run or of all runs. Never real patients."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--run", metavar="ID", help="the run to purge (its id, as the run report shows)")
        target.add_argument("--all", action="store_true", help="purge the users of every synthadmin run")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be deleted, delete nothing"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--json", action="store_true", help="print the purge report as one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        run = self._run(options)
        target_preflight(self, verbosity=options["verbosity"])
        if options["dry_run"] or not options["yes"]:
            preview = synthetic_purge(run=run, dry_run=True)
            if options["dry_run"]:
                self._print(preview, options)
                return
            if preview.users_deleted or preview.intents_resolved:
                self._confirm(preview)
        try:
            gateway = get_gateway()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        try:
            report = synthetic_purge(run=run, gateway=gateway)
        except AuthRejectedError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted; run the same command again to finish", returncode=130) from None
        finally:
            gateway.close()
        self._print(report, options)
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} user(s) could not be deleted: {report.errors[0]}; run again to retry",
                returncode=2,
            )
        if report.blocked or report.left_alone:
            first = (report.blocked or report.left_alone)[0]
            raise CommandError(
                f"{len(report.blocked) + len(report.left_alone)} synthetic user(s) left in place: {first}",
                returncode=2,
            )

    def _run(self, options: dict[str, Any]) -> uuid.UUID | None:
        if not options["run"] and not options["all"]:
            raise CommandError("say what to purge: --run ID (one run) or --all (every synthadmin run)")
        if options["all"]:
            return None
        try:
            run = uuid.UUID(options["run"])
        except ValueError:
            raise CommandError(f"--run: not a run id: {options['run']!r}") from None
        if not SyntheticRun.objects.filter(pk=run).exists():
            raise CommandError(f"--run: no synthadmin run with id {run}")
        return run

    def _confirm(self, preview: PurgeReport) -> None:
        if not sys.stdin.isatty():
            raise CommandError("refusing to purge without confirmation: run on a terminal, or pass --yes")
        self.stdout.write(
            f"This deletes {preview.users_deleted} synthetic user(s) ({preview.patients_deleted} patients, "
            f"{preview.therapists_deleted} therapists, {preview.checkins_deleted:,} check-ins) "
            "from Auth and the database."
        )
        answer = input("Type 'yes' to continue: ")
        if answer.strip().lower() != "yes":
            raise CommandError("purge cancelled; nothing was deleted")

    def _print(self, report: PurgeReport, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        if options["verbosity"] < 1:
            return
        if not (
            report.users_deleted
            or report.intents_resolved
            or report.skipped_real
            or report.errors
            or report.left_alone
            or report.blocked
        ):
            self.stdout.write("Nothing to purge." if not report.dry_run else "Nothing would be purged.")
            return
        verb = "would delete" if report.dry_run else "deleted"
        rows = [
            (f"users {verb}", str(report.users_deleted)),
            ("  patients", str(report.patients_deleted)),
            ("  therapists", str(report.therapists_deleted)),
            ("  check-ins", f"{report.checkins_deleted:,}"),
            ("intents resolved", str(report.intents_resolved)),
            ("runs", ", ".join(report.runs) or "—"),
        ]
        if report.skipped_real:
            rows.append(("left alone (real)", ", ".join(report.skipped_real)))
        for line in report.left_alone:
            rows.append(("left alone", line))
        for line in report.blocked:
            rows.append(("blocked", line))
        title = "Purge (dry run: nothing was deleted)" if report.dry_run else "Purge"
        self.stdout.write(render(key_value_table(title, rows)))
        for error in report.errors:
            self.stderr.write(f"not deleted: {error}")
