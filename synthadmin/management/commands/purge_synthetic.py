"""``python manage.py purge_synthetic``: delete synthetic users (a thin adapter over the service).

Only users created by synthadmin runs whose profiles carry ``is_test_patient = true`` are ever
deleted; real patients are never touched, whatever the options. Exit codes
(``synthadmin.management.exitcodes``): 0 done; 1 bad input, nothing deleted; 2 some users could
not be deleted or were left alone (each named); 3 stopped part way (Auth or the database lost, the
key rejected); 129/130/143 stopped by SIGHUP, Ctrl-C or SIGTERM after a clean stop.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connection

from synthadmin.auth import get_gateway
from synthadmin.db.errors import database_unusable_message
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthRejectedError,
    ConfigurationError,
    InvalidRequestError,
)
from synthadmin.management import exitcodes
from synthadmin.management.base import (
    SynthadminCommand,
    command_starter,
    run_id,
    stops_as_command_errors,
)
from synthadmin.management.output import key_value_table, one_line, progress_bars, render
from synthadmin.management.preflight import target_preflight
from synthadmin.management.stopping import SignalStop
from synthadmin.models import SyntheticRun
from synthadmin.services.cancel import runs_purge
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.reports import PurgeReport

#: How many users a table or stderr names before "and N more".
SHOWN = 20


class Command(SynthadminCommand):
    help = "Delete synthetic users (and their check-ins) of one run or of all runs. Never real patients."
    # As createsuperuser: the confirmation is read from ``stdin`` (call_command(..., stdin=...)).
    stealth_options = ("stdin",)
    stdin: TextIO

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--run", type=run_id, metavar="ID", help="the run to purge (its id, as the run report shows)"
        )
        target.add_argument("--all", action="store_true", help="purge the users of every synthadmin run")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be deleted, delete nothing"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--json", action="store_true", help="print the purge report as one JSON document")

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.stdin = options.get("stdin") or sys.stdin
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            connection.ensure_connection()
        except DatabaseError as exc:
            raise CommandError(database_unusable_message(connection.settings_dict, exc)) from None
        run = self._run(options)
        target_preflight(self, verbosity=options["verbosity"])
        if options["dry_run"] or not options["yes"]:
            preview = self._preview(run)
            if options["dry_run"]:
                self._print(preview, options)
                _refuse_what_is_left(preview, None)  # the exit code the purge itself would have
                return
            if preview.users_deleted or preview.intents_resolved:
                self._confirm(preview)
        signals = SignalStop()
        report = self._purge(run, signals, options)
        self._print(report, options)
        _refuse_what_is_left(report, signals)

    def _run(self, options: dict[str, Any]) -> uuid.UUID | None:
        if not options["run"] and not options["all"]:
            raise CommandError("say what to purge: --run ID (one run) or --all (every synthadmin run)")
        if options["all"]:
            return None
        run: uuid.UUID = options["run"]
        if (options["dry_run"] or not options["yes"]) and not SyntheticRun.objects.filter(pk=run).exists():
            # (With --yes, runs_purge tells in the statement that reads the run: one round trip less.)
            raise CommandError(f"--run: no synthadmin run with id {run}")
        return run

    def _preview(self, run: uuid.UUID | None) -> PurgeReport:
        try:
            return synthetic_users_purge(run=run, dry_run=True)
        except ConfigurationError as exc:  # Auth unreachable or the key refused: nothing done
            raise CommandError(one_line(str(exc))) from None

    def _confirm(self, preview: PurgeReport) -> None:
        if not self.stdin.isatty():
            raise CommandError("refusing to purge without confirmation: run on a terminal, or pass --yes")
        self.stdout.write(
            f"This deletes {preview.users_deleted} synthetic user(s) ({preview.patients_deleted} patients, "
            f"{preview.therapists_deleted} therapists, {preview.checkins_deleted:,} check-ins) "
            "from Auth and the database."
        )
        self.stdout.write("Type 'yes' to continue: ", ending="")
        self.stdout.flush()
        if self.stdin.readline().strip().lower() != "yes":
            raise CommandError("purge cancelled; nothing was deleted")

    def _purge(self, run: uuid.UUID | None, signals: SignalStop, options: dict[str, Any]) -> PurgeReport:
        """``runs_purge`` (a run in progress is asked to stop and awaited first), its errors as one
        line and an exit code each."""
        try:
            # The signals' stop event also ends the Auth calls in flight.
            gateway = get_gateway(cancel=signals.event)
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None
        # A bar on stderr while deleting (users deleted of the total, rate, ETA): 5,409 users take
        # several seconds, which must not look like a hang.
        bars = progress_bars(verbosity=options["verbosity"], json=options["json"])
        try:
            with (
                stops_as_command_errors(
                    interrupted="interrupted; run the same command again to finish",
                    lost="Users deleted before that are gone from Auth and the database; run the same "
                    "command again when the database is back",
                ),
                signals,
                bars or contextlib.nullcontext(),
            ):
                return runs_purge(
                    run=run,
                    gateway=gateway,
                    stop=signals.event,
                    progress=bars,
                    by=f"purge_synthetic ({command_starter().label})",
                )
        except ConfigurationError as exc:  # the preflight: Auth unreachable or the key refused
            raise CommandError(one_line(str(exc))) from None
        except AuthCancelledError:  # stopped during the preflight, before anything was deleted
            raise CommandError(
                "stopped before anything was deleted", returncode=signals.exit_code or exitcodes.INTERRUPTED
            ) from None
        except InvalidRequestError as exc:
            if exc.field != "run":  # a run still stopping after its cancel
                raise CommandError(one_line(str(exc)), returncode=exitcodes.STOPPED) from None
            raise CommandError(f"--run: {exc}") from None  # no such run: nothing was written
        except AuthRejectedError as exc:
            raise CommandError(one_line(str(exc)), returncode=exitcodes.STOPPED) from None
        finally:
            gateway.close()

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
            or report.checkins_deleted
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
        for label, lines in (("left alone", report.left_alone), ("blocked", report.blocked)):
            rows += [(label, line) for line in lines[:SHOWN]]
            if len(lines) > SHOWN:
                rows.append((label, f"… and {len(lines) - SHOWN:,} more (--json lists them all)"))
        title = "Purge (dry run: nothing was deleted)" if report.dry_run else "Purge"
        self.stdout.write(render(key_value_table(title, rows)))
        if report.stopped_by:
            return  # one line says why, and that the same command finishes (not one per user)
        for error in report.errors[:SHOWN]:
            self.stderr.write(f"not deleted: {one_line(error)}")
        if len(report.errors) > SHOWN:
            self.stderr.write(
                f"not deleted: … and {len(report.errors) - SHOWN:,} more (--json lists them all)"
            )


def _refuse_what_is_left(report: PurgeReport, signals: SignalStop | None) -> None:
    """A purge that did not finish, or left users in place, ends in a CommandError saying so (the
    exit-code table: 3 stopped part way, 2 some users not deleted, 129/130/143 a signal). A dry
    run's preview ends the same way, with the code the purge would exit with."""
    if report.dry_run:
        dry, left, rest = "dry run: ", "would be left", "; nothing was deleted (the purge would exit 2)"
    else:
        _refuse_a_stop(report, signals)
        dry, left, rest = "", "left", ""
    if report.errors:
        raise CommandError(
            f"{dry}{len(report.errors)} user(s) could not be deleted: {one_line(report.errors[0])}"
            f"{rest or '; run again to retry'}",
            returncode=exitcodes.PARTIAL,
        )
    if report.blocked or report.left_alone:
        first = (report.blocked or report.left_alone)[0]
        raise CommandError(
            f"{dry}{len(report.blocked) + len(report.left_alone)} synthetic user(s) {left} in place "
            f"(listed above){rest or '; the rest are deleted'}. First: {one_line(first)}",
            returncode=exitcodes.PARTIAL,
        )


def _refuse_a_stop(report: PurgeReport, signals: SignalStop | None) -> None:
    if signals is not None and signals.received is not None:
        raise CommandError(
            f"stopped by {signals.name} after {report.users_deleted} user(s) were deleted; nothing "
            "was left half-deleted. Run the same command again to finish",
            returncode=signals.exit_code or exitcodes.STOPPED,
        )
    if report.stopped_by:
        raise CommandError(
            f"purge stopped part way: {one_line(report.stopped_by)}; {report.users_deleted} user(s) "
            f"deleted, {len(report.errors)} not. Run the same command again when Auth answers",
            returncode=exitcodes.STOPPED,
        )
