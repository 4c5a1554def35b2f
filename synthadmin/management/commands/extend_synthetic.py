"""``python manage.py extend_synthetic``: more check-in days for synthetic patients (a thin adapter).

``--to-today`` calls ``services.extend_today`` (idempotent: the scheduled top-up, ``--all
--to-today``); ``--days N`` calls ``services.backfill`` (the admin's "Add check-in days"). Exit
codes (``management.exitcodes``): 0 done or nothing to add; 1 bad input, nothing written; 2 some
patients failed; 3 the database was lost part way, or Cancel or a purge stopped the run
(``stopped: cancelled by …`` / ``stopped: purged by …``); 129/130/143 SIGHUP, Ctrl-C or SIGTERM,
seen between batches (the run ``aborted``).

A stopped ``--days`` run is never finished by running ``--days`` again (that adds the days again
to the patients already reached): the closing line says to purge the run (which removes exactly
what it added), then run the command again; ``--to-today`` is idempotent and simply re-runs.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connection

from synthadmin.content import PATTERN_NAMES
from synthadmin.db.errors import database_unusable_message
from synthadmin.exceptions import InvalidRequestError
from synthadmin.management import exitcodes
from synthadmin.management.base import (
    SynthadminCommand,
    command_starter,
    run_id,
    stops_as_command_errors,
)
from synthadmin.management.output import RichProgress, key_value_table, one_line, render
from synthadmin.management.stopping import SignalStop
from synthadmin.services.additions import AdditionRefusal, patients_selected
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.extend_today import TodayExtension, checkins_extend_to_today
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import RunReport

#: The option that carries each field a service may name in an InvalidRequestError.
OPTION_OF_FIELD = {
    "checkin_days": "--days",
    "days": "--days",
    "pattern": "--pattern",
    "seed": "--seed",
    "run": "--run",
    "selection": "--run/--all",
}

#: How many refusals or failures the table names before "and N more".
SHOWN = 20


class Command(SynthadminCommand):
    help = (
        "Add check-in days to synthetic patients: --to-today (missing days up to today, continuing "
        "each mood chain; safe to run from cron) or --days N before their first check-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--to-today",
            action="store_true",
            help="add the days from each patient's last generated day up to today (idempotent)",
        )
        what.add_argument(
            "--days", type=int, metavar="N", help="add N days before each patient's first check-in"
        )
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--run", metavar="ID", type=run_id, help="the patients of this run (its id)")
        scope.add_argument("--all", action="store_true", help="every synthetic patient of every run")
        parser.add_argument(
            "--pattern",
            choices=PATTERN_NAMES,
            metavar="NAME",
            help="with --days: the new days' pattern (default: each patient's own, continued)",
        )
        parser.add_argument("--seed", type=int, metavar="S", help="with --days: the seed of the new days")
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        run = _options_validate(options)
        _database_check()
        starter = command_starter()
        # Ctrl-C too: a KeyboardInterrupt mid-batch would leave the run ``running`` uncounted.
        signals = SignalStop(interrupt=True)
        with _as_command_errors(), signals:
            if options["to_today"]:
                result = self._to_today(run, options, starter, signals)
                self._print_today(result, options)
                report = result.report
            else:
                report, refusals = self._backfill(run, options, starter, signals)
                self._print_backfill(report, refusals, options)
        _outcome_check(signals, report, days=options["days"])

    def _to_today(
        self, run: uuid.UUID | None, options: dict[str, Any], starter: Starter, signals: SignalStop
    ) -> TodayExtension:
        show_bar = options["verbosity"] >= 1 and not options["json"] and sys.stderr.isatty()
        with RichProgress() if show_bar else contextlib.nullcontext(None) as bar:
            return checkins_extend_to_today(
                run=run,
                all_patients=bool(options["all"]),
                started_by=starter,
                progress=bar,
                stop=signals.event,
            )

    def _backfill(
        self, run: uuid.UUID | None, options: dict[str, Any], starter: Starter, signals: SignalStop
    ) -> tuple[RunReport | None, list[AdditionRefusal]]:
        ids = patients_selected(patient_ids=None, run=run, all_patients=bool(options["all"]))
        return checkins_backfill(
            patient_ids=ids,
            days=options["days"],
            pattern=options["pattern"],  # None: each patient's own
            started_by=starter,
            seed=options["seed"],
            stop=signals.event,
        )

    def _print_today(self, result: TodayExtension, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, default=str))
            return
        if options["verbosity"] < 1:
            return
        report = result.report
        rows = [
            ("today", result.today.isoformat()),
            ("patients extended", f"{result.patients_extended:,}"),
            ("already up to date", f"{result.up_to_date:,}"),
            ("check-ins added", f"{report.checkins_created:,}" if report else "0"),
        ]
        if report is not None:
            rows += [
                ("status", report.status),
                ("failures", str(len(report.failures))),
                ("duration", f"{report.duration_seconds:.1f} s"),
                ("run id", str(report.run_id)),
                ("purge with", report.purge_command),
            ]
        rows += _named("refused", [f"{r.email}: {r.reason}" for r in result.refusals])
        if report is not None:
            rows += _named("not extended", [f"{f.email}: {one_line(f.reason)}" for f in report.failures])
        title = "Extend to today" if report is not None else "Extend to today: nothing to add"
        self.stdout.write(render(key_value_table(title, rows)))

    def _print_backfill(
        self, report: RunReport | None, refusals: list[AdditionRefusal], options: dict[str, Any]
    ) -> None:
        if options["json"]:
            document = {
                "refusals": [r.as_dict() for r in refusals],
                "run": report.as_dict() if report is not None else None,
            }
            self.stdout.write(json.dumps(document, indent=2, default=str))
            return
        if options["verbosity"] < 1:
            return
        rows = [("check-ins added", f"{report.checkins_created:,}" if report else "0")]
        if report is not None:
            rows += [
                ("patients", str(report.parameters.get("patients", 0))),
                ("pattern", str(report.parameters.get("pattern", ""))),
                ("status", report.status),
                ("run id", str(report.run_id)),
                ("purge with", report.purge_command),
            ]
        rows += _named("refused", [f"{r.email}: {r.reason}" for r in refusals])
        title = "Add check-in days" if report is not None else "Add check-in days: no patient to extend"
        self.stdout.write(render(key_value_table(title, rows)))


def _options_validate(options: dict[str, Any]) -> uuid.UUID | None:
    """Refuse options that say too little or do not go together; the ``--run`` id, if any."""
    if not options["to_today"] and options["days"] is None:
        raise CommandError("say what to add: --to-today, or --days N (before the first check-in)")
    if not options["run"] and not options["all"]:
        raise CommandError("say which patients: --run ID (one run) or --all (every synthetic patient)")
    if options["to_today"] and (options["pattern"] or options["seed"] is not None):
        raise CommandError("--pattern and --seed go with --days; --to-today continues each patient's own")
    run: uuid.UUID | None = options["run"]
    return run


def _database_check() -> None:
    """Refuse, in one line and before any write, a database that cannot be used. (An unknown run
    is refused by the service, in the statement that reads the run, before it writes anything:
    InvalidRequestError, ``--run: no synthadmin run with id ...``.)"""
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        raise CommandError(database_unusable_message(connection.settings_dict, exc)) from None


@contextlib.contextmanager
def _as_command_errors() -> Iterator[None]:
    """What the services raise, as one-line CommandErrors with the exit code each one means."""
    try:
        with stops_as_command_errors(
            interrupted="interrupted; patients already extended keep their days (list_runs shows the "
            "run: purge_synthetic --run with its id removes them)",
            lost="Patients extended before that keep their days; run the same command again when "
            "the database is back",
        ):
            yield
    except InvalidRequestError as exc:
        raise CommandError(f"{OPTION_OF_FIELD.get(exc.field or '', '--days')}: {exc}") from None


def _outcome_check(signals: SignalStop, report: RunReport | None, *, days: int | None) -> None:
    """Exit non-zero for a run stopped by a signal or by a purge, or one with patients that could
    not be extended. ``days``: the ``--days`` of an addition before the first check-in (None for
    ``--to-today``)."""
    if signals.received is not None:
        code = signals.exit_code or exitcodes.STOPPED
        raise CommandError(_signal_stop(signals.name, report, days), returncode=code)
    if report is not None and report.cancelled_by and not report.cancel_for_purge:
        raise CommandError(
            f"stopped: cancelled by {report.cancelled_by} between batches; {_reached(report)}. "
            f"{_to_finish(report, days)}",
            returncode=exitcodes.STOPPED,
        )
    if report is not None and report.cancelled_by:
        # A purge of this run, or of a run of its patients, or of some of them, asked it to stop
        # between batches; it goes on in its own process: what it removes is not known here.
        raise CommandError(
            f"stopped: purged by {report.cancelled_by}: asked to stop between batches so that the purge "
            f"could remove what it selected; before that {_reached(report)} (those of the patients "
            "it deletes, and all of them if it purges this run, go with the purge). For any patient "
            f"it leaves: {_to_finish(report, days, capital=False)}",
            returncode=exitcodes.STOPPED,
        )
    if report is not None and report.failures:
        raise CommandError(
            f"{len(report.failures)} patient(s) could not be extended: {report.failures[0].email}: "
            f"{one_line(report.failures[0].reason)}; run again to retry",
            returncode=exitcodes.PARTIAL,
        )


def _signal_stop(name: str, report: RunReport | None, days: int | None) -> str:
    """The closing line of a run a signal stopped: what it wrote, and how to finish truthfully."""
    if report is None:
        return f"stopped by {name} before any day was added; nothing was written"
    if report.status != "aborted":  # the signal came during the last batch: all of it was done
        return (
            f"stopped by {name} after the last batch: {_reached(report)}; run {report.run_id} is "
            f"{report.status}, nothing left to add"
        )
    return (
        f"stopped by {name} between batches: {_reached(report)}; run {report.run_id} is aborted. "
        f"{_to_finish(report, days)}"
    )


def _reached(report: RunReport) -> str:
    """How many of the run's patients got their days, and the check-ins (exact, from the run)."""
    of = report.parameters.get("patients", report.patients_extended)
    return (
        f"{report.patients_extended:,} of {of:,} patients got their days whole "
        f"({report.checkins_created:,} check-ins)"
    )


def _to_finish(report: RunReport, days: int | None, *, capital: bool = True) -> str:
    """How to finish a stopped run: ``--to-today`` is idempotent; ``--days`` is not (it would add
    the days again to the patients already reached), so its run is purged first."""
    if days is None:
        advice = "run the same command again to finish: --to-today adds only the days still missing"
    else:
        advice = (
            f"do not run --days again as is: it would add {days:,} days again to the patients already "
            f"reached. To finish: {report.purge_command} (removes exactly the days this run added), "
            "then the same command again"
        )
    return advice[0].upper() + advice[1:] if capital else advice


def _named(label: str, lines: list[str]) -> list[tuple[str, str]]:
    rows = [(label, line) for line in lines[:SHOWN]]
    if len(lines) > SHOWN:
        rows.append((label, f"… and {len(lines) - SHOWN:,} more (--json lists them all)"))
    return rows
