"""``python manage.py generate_synthetic``: create synthetic test patients (a thin adapter).

Parses and validates the options, calls ``synthetic_generate`` (the same service as the admin's
"Generate synthetic data" button), and reports. Exit codes (``synthadmin.management.exitcodes``):
0 all created; 1 bad input or configuration, nothing written; 2 some users failed after retries;
3 stopped part way (Auth or the database lost, the key rejected); 129/130/143 stopped by SIGHUP,
Ctrl-C or SIGTERM after a clean stop.
"""

from __future__ import annotations

import contextlib
import csv
import getpass
import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.models.signals import post_save
from django.urls import reverse

from synthadmin.auth import AuthGateway, get_gateway
from synthadmin.content import PATTERN_NAMES
from synthadmin.db.errors import connection_lost, database_lost_message, database_unusable_message
from synthadmin.exceptions import AuthCancelledError, ConfigurationError, InvalidRequestError
from synthadmin.management import exitcodes
from synthadmin.management.base import SynthadminCommand
from synthadmin.management.files import new_file
from synthadmin.management.output import key_value_table, one_line, progress_bars, render
from synthadmin.management.preflight import target_preflight
from synthadmin.management.stopping import SignalStop
from synthadmin.models import Scenario, SyntheticRun, SyntheticUser
from synthadmin.services.background import WORKER_COMMAND, run_enqueue, workers_alive
from synthadmin.services.generation import PHASE_CHECKINS, PHASE_USERS, Starter, synthetic_generate
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.preview import synthetic_generate_preview
from synthadmin.services.reports import Credential, ProgressListener, RunReport
from synthadmin.services.requests import (
    GenerationParams,
    GenerationRequest,
    ascii_date,
    ascii_decimal,
    ascii_integer,
    generation_request_validate,
    mix_parse,
)
from synthadmin.services.scenarios import scenario_request

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


class Command(SynthadminCommand):
    help = "Create synthetic test patients (and therapists) with realistic check-in histories."
    scenario: Scenario | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        # Numbers arrive as text and are validated here, so every bad value gets the same
        # one-line CommandError (exit 1) instead of argparse's usage dump (exit 2).
        # Defaults are GenerationRequest's (one place); None means "not given" (a scenario's value
        # then stands).
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
            "--adherence",
            default=None,
            help=f"share of days with a check-in, 0-1 (default {DEFAULTS.adherence})",
        )
        parser.add_argument(
            "--locale", default=None, help=f"Faker locale for names (default {DEFAULTS.locale})"
        )
        parser.add_argument(
            "--concurrency",
            default=None,
            metavar="K",
            help="concurrent Auth calls (default SYNTHADMIN_AUTH_CONCURRENCY)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="build everything, write nothing, print what would be written",
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

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            request = generation_request_validate(self._request(options))
        except InvalidRequestError as exc:
            raise CommandError(self._option_message(exc)) from None
        if options["background"] and (options["dry_run"] or options["credentials_out"]):
            why = (
                "--dry-run (a background run always writes; drop --background to preview)"
                if options["dry_run"]
                else "--credentials-out (a worker cannot write your file; the admin offers the logins of "
                "a background run for download once it ends)"
            )
            raise CommandError(f"--background: not with {why}")
        target_preflight(self, verbosity=options["verbosity"])
        if options["dry_run"]:
            self._dry_run(request, options)
            return
        if options["background"]:
            self._database_ready()
            self._enqueue(request, options)
            return
        # One stop event for the signals and the gateway: Ctrl-C or SIGTERM also ends the Auth
        # calls in flight, not only the users not started yet.
        stop = threading.Event()
        try:
            gateway = get_gateway(cancel=stop)
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None
        try:
            # Everything that can refuse the run does so before the first write: the database
            # must answer, and the credentials file must be creatable.
            self._database_ready()
            if options["credentials_out"]:
                # The file would be the one thing written before the service's own preflight.
                self._auth_ready(gateway)
            credentials_file = self._open_credentials(options["credentials_out"], force=options["force"])
            try:
                report = self._generate(request, gateway, credentials_file, options, stop)
            finally:
                if credentials_file is not None:
                    credentials_file.close()
        finally:
            gateway.close()
        self._report(report, options)

    # --- parsing -----------------------------------------------------------------------
    def _request(self, options: dict[str, Any]) -> GenerationRequest:
        """Typed values from the option strings (ASCII digits only); InvalidRequestError if not.

        Starts from the scenario's recipe (``--scenario``) or ``GenerationRequest``'s defaults;
        every option given replaces the value it names.
        """
        base = scenario_request(self._scenario(options)) if options["scenario"] else DEFAULTS
        given: dict[str, Any] = {}
        parsers: tuple[tuple[str, str, Callable[[str, object], Any]], ...] = (
            ("patients", "patients", ascii_integer),
            ("therapists", "therapists", ascii_integer),
            ("checkin_days", "checkins", ascii_integer),
            ("seed", "seed", ascii_integer),
            ("end_date", "end_date", ascii_date),
            ("adherence", "adherence", ascii_decimal),
            ("concurrency", "concurrency", ascii_integer),
        )
        for field, option, parse in parsers:
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

    def _scenario(self, options: dict[str, Any]) -> Scenario:
        scenario = Scenario.objects.filter(name=options["scenario"]).first()
        if scenario is None:
            names = ", ".join(Scenario.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(
                f"--scenario: no scenario named {options['scenario']!r}; saved scenarios: {names}"
            )
        self.scenario = scenario
        return scenario

    def _option_message(self, exc: InvalidRequestError) -> str:
        option = OPTION_OF_FIELD.get(exc.field or "", "")
        return f"{option}: {exc}" if option else str(exc)

    def _database_ready(self) -> None:
        """Connect (and so check the session) before anything is written; exit 1 if it fails."""
        try:
            connection.ensure_connection()
        except DatabaseError as exc:
            raise CommandError(database_unusable_message(connection.settings_dict, exc)) from None

    def _auth_ready(self, gateway: AuthGateway) -> None:
        """Auth reachable and the key accepted (``auth_preflight``); exit 1 if not."""
        try:
            auth_preflight(gateway=gateway)
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None

    def _open_credentials(self, path: str | None, *, force: bool) -> TextIO | None:
        """Create the credentials file: a new file, mode 0600, never through a symbolic link.

        Refuses (exit 1, one line, before anything is written) an existing path unless
        ``--force`` (then only a regular file is replaced), any symbolic link, and every OS error.
        """
        if path is None:
            return None
        # Created 0600 from the start: the passwords are never readable by anyone else.
        handle = new_file(
            path,
            option="--credentials-out",
            force=force,
            mode=0o600,
            holds="it may hold the only copy of earlier passwords",
        )
        csv.writer(handle).writerow(["email", "password", "role", "user_id"])
        handle.flush()
        return handle

    # --- running -----------------------------------------------------------------------
    def _enqueue(self, request: GenerationParams, options: dict[str, Any]) -> None:
        """``--background``: record and enqueue the run, say how to follow it, return at once."""
        starter = Starter(f"os:{_os_user()}", source=SyntheticRun.Source.COMMAND)
        try:
            run = run_enqueue(request=request, started_by=starter, scenario=self.scenario)
        except ConfigurationError as exc:  # Auth unreachable or the key refused: nothing enqueued
            raise CommandError(one_line(str(exc))) from None
        alive = workers_alive()
        page = reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
        if options["json"]:
            document = {
                "run_id": str(run.pk),
                "status": run.status,
                "admin_path": page,
                "workers_alive": len(alive),
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        if options["verbosity"] < 1:
            return
        rows = [
            ("status", f"{run.status} ({run.chunks.count()} chunk(s) enqueued)"),
            ("patients", str(request.patients)),
            ("therapists", str(request.therapists)),
            ("seed", str(request.seed)),
            ("run id", str(run.pk)),
            ("follow with", "python manage.py list_runs"),
            ("admin page", page),
            ("workers alive", str(len(alive)) if alive else f"none — start one with: {WORKER_COMMAND}"),
            ("cancel", "the run page's Cancel button, or purge_synthetic --run (cancels first)"),
        ]
        self.stdout.write(render(key_value_table("Synthetic run enqueued", rows)))

    def _generate(
        self,
        request: GenerationParams,
        gateway: AuthGateway,
        credentials_file: TextIO | None,
        options: dict[str, Any],
        stop: threading.Event,
    ) -> RunReport:
        writer = csv.writer(credentials_file) if credentials_file is not None else None

        def keep(credential: Credential) -> None:
            assert writer is not None and credentials_file is not None  # only given when there is a file
            writer.writerow([credential.email, credential.password, credential.role, credential.user_id])
            credentials_file.flush()

        starter = Starter(f"os:{_os_user()}", source=SyntheticRun.Source.COMMAND)
        written = _Written()
        self._signals = SignalStop(stop)
        try:
            bars = progress_bars(
                verbosity=options["verbosity"], json=options["json"]
            ) or contextlib.nullcontext(None)
            with self._signals, written, bars as drawn:
                written.forward_to = drawn
                report = synthetic_generate(
                    request=request,
                    scenario=self.scenario,
                    started_by=starter,
                    gateway=gateway,
                    progress=written,
                    credentials=keep if writer else None,
                    stop=self._signals.event,
                )
                if drawn is not None:
                    drawn.settle(PHASE_CHECKINS)  # the expected total becomes the count
                return report
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None
        except AuthCancelledError:  # a signal during the preflight: nothing was written
            raise CommandError(
                "stopped before anything was written",
                returncode=self._signals.exit_code or exitcodes.INTERRUPTED,
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted; users already created are complete. Remove them with: "
                "python manage.py purge_synthetic --all --dry-run (then without --dry-run)",
                returncode=exitcodes.INTERRUPTED,
            ) from None
        except DatabaseError as exc:
            if not connection_lost(exc):
                raise
            self._detail(exc, options)
            raise CommandError(
                f"{database_lost_message(connection.settings_dict, exc)}. {written.summary()}",
                returncode=exitcodes.STOPPED,
            ) from None

    def _detail(self, exc: BaseException, options: dict[str, Any]) -> None:
        """``-v 2``: the whole error, traceback included (secrets redacted)."""
        if options["verbosity"] >= 2:
            import traceback

            from synthadmin.redaction import redact

            self.stderr.write(redact("".join(traceback.format_exception(exc))).rstrip("\n"))

    def _dry_run(self, request: GenerationParams, options: dict[str, Any]) -> None:
        preview = synthetic_generate_preview(request=request)
        if options["json"]:
            self.stdout.write(json.dumps(preview.as_dict(), indent=2, default=str))
            return
        if options["verbosity"] < 1:
            return
        rows = [
            ("would create", f"{preview.patients} patients, {preview.therapists} therapists"),
            (
                "check-ins",
                f"{preview.checkins:,}"
                if preview.checkins_exact
                else f"about {preview.checkins:,} (estimate from {preview.sampled_patients} patients)",
            ),
            ("pattern", request.pattern),
            ("seed", str(request.seed)),
            ("days", f"{request.checkin_days} ending {request.end_date.isoformat()}"),
        ]
        rows += [(f"  {state}", f"{share:.1%} of days") for state, share in preview.state_shares.items()]
        self.stdout.write(render(key_value_table("Dry run: nothing was written", rows)))
        if preview.sample_days:
            from rich.table import Table

            table = Table(title=f"First check-ins of {preview.sample_patient}", title_justify="left")
            for column in ("date", "state", "sleep h", "energy", "depressed", "elevation"):
                table.add_column(column)
            for day in preview.sample_days:
                table.add_row(
                    day.date,
                    day.state,
                    f"{day.hours_slept:.1f}",
                    str(day.energy),
                    str(day.depressed_mood),
                    str(day.elevation),
                )
            self.stdout.write(render(table))

    # --- reporting ---------------------------------------------------------------------
    def _report(self, report: RunReport, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        elif options["verbosity"] >= 1:
            retries = (
                ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(report.retries.items())) or "none"
            )
            rows = [
                ("status", report.status),
                ("patients", str(report.patients_created)),
                *(
                    [("  by pattern", ", ".join(f"{p} {n}" for p, n in report.patients_by_pattern.items()))]
                    if len(report.patients_by_pattern) > 1
                    else []
                ),
                ("therapists", str(report.therapists_created)),
                ("check-ins", f"{report.checkins_created:,}"),
                ("retries", retries),
                *self._rate_limit_rows(report),
                ("failures", str(report.users_failed)),
                ("duration", f"{report.duration_seconds:.1f} s"),
                ("auth backend", report.auth_backend),
                ("seed", str(report.seed)),
                ("run id", str(report.run_id)),
                ("purge with", report.purge_command),
            ]
            self.stdout.write(render(key_value_table("Synthetic run", rows)))
            for failure in report.failures:
                if report.stopped_by and failure.reason == report.stopped_by:
                    continue  # the user whose answer stopped the run: the last line says it
                self.stderr.write(f"failed: {failure.email} ({failure.role}): {one_line(failure.reason)}")
        signals = getattr(self, "_signals", None)
        if signals is not None and signals.received is not None:
            raise CommandError(
                f"stopped by {signals.name}: no user was left half-written; "
                f"{report.patients_created} patients and {report.therapists_created} therapists are "
                f"complete. Remove this run with: {report.purge_command}",
                returncode=signals.exit_code,
            )
        if report.status == SyntheticRun.Status.SUCCEEDED:
            return
        if report.status == SyntheticRun.Status.PARTIAL:
            raise CommandError(
                f"partial run: {report.users_failed} user(s) failed after retries (listed above); "
                f"the rest are complete. {report.purge_command} removes them",
                returncode=exitcodes.PARTIAL,
            )
        if report.status == SyntheticRun.Status.ABORTED:
            raise CommandError(
                f"interrupted: no user was left half-written. Remove this run with: {report.purge_command}",
                returncode=exitcodes.INTERRUPTED,
            )
        # A diagnosis stopped the run part way (the key rejected, Auth unavailable or refusing
        # rows): 3, however many users it had tried. Otherwise every user was tried and failed on
        # its own (collisions...): some users failed, 2.
        code = exitcodes.STOPPED if report.stopped_by else exitcodes.PARTIAL
        raise CommandError(
            f"run failed: {one_line(report.error)}. Run id {report.run_id}; {report.purge_command} removes "
            "what it made",
            returncode=code,
        )

    @staticmethod
    def _rate_limit_rows(report: RunReport) -> list[tuple[str, str]]:
        """A row saying how often Auth answered 429 and where concurrency settled, if it did."""
        flow = report.auth_flow
        if not flow.get("rate_limited"):
            return []
        return [
            (
                "rate limited",
                f"{flow['rate_limited']} answers 429, paused {flow['paused_seconds']:.1f} s; concurrency "
                f"settled at {flow['concurrency_settled']:g} of {flow['concurrency_max']}",
            )
        ]


class _Written:
    """Counts what the run wrote, from its progress (and learns the run id when it is recorded),
    so that a run cut off by a lost database can still say what it left; forwards to the bars."""

    def __init__(self) -> None:
        self.forward_to: ProgressListener | None = None
        self.counts: Counter = Counter()
        self.run_id: uuid.UUID | None = None
        self._thread = threading.current_thread()

    def __enter__(self) -> _Written:
        post_save.connect(self._run_saved, sender=SyntheticRun, weak=False, dispatch_uid=id(self))
        return self

    def __exit__(self, *exc: object) -> None:
        post_save.disconnect(sender=SyntheticRun, dispatch_uid=id(self))

    def _run_saved(self, *, instance: SyntheticRun, created: bool, **_: Any) -> None:
        if created and self.run_id is None and threading.current_thread() is self._thread:
            self.run_id = instance.pk

    def phase(self, name: str, total: int | None) -> None:
        if self.forward_to is not None:
            self.forward_to.phase(name, total)

    def advance(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        if self.forward_to is not None:
            self.forward_to.advance(name, amount)

    def summary(self) -> str:
        """What was written before the loss: from the ledger if the database answers again, else
        from the progress counted here."""
        if self.run_id is None:
            return "Nothing had been written yet"
        purge = (
            f"when the database is back, finish with: python manage.py purge_synthetic --run {self.run_id}"
        )
        try:
            connection.close()
        except DatabaseError:
            pass
        try:
            complete = SyntheticUser.objects.filter(run_id=self.run_id, state=SyntheticUser.State.COMPLETE)
            users = complete.count()
            checkins = sum(complete.values_list("checkins", flat=True))
            open_intents = SyntheticUser.objects.filter(
                run_id=self.run_id, state=SyntheticUser.State.INTENT
            ).count()
        except DatabaseError:
            return (
                f"Run {self.run_id} had finished about {self.counts[PHASE_USERS]:,} users and written "
                f"{self.counts[PHASE_CHECKINS]:,} check-ins; {purge}"
            )
        return (
            f"Run {self.run_id} wrote {users:,} complete users with {checkins:,} check-ins"
            f"{f'; {open_intents} user(s) in flight are recorded as intents' if open_intents else ''}; "
            f"{purge}"
        )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"
