"""``python manage.py generate_synthetic``: create synthetic test patients (a thin adapter).

Parses and validates the options, calls ``population_generate`` (the same service as the admin's
"Generate synthetic data" button), and reports. Exit codes (``synthadmin.management.exitcodes``):
0 all created; 1 bad input or configuration, nothing written; 2 some users failed after retries;
3 stopped part way (Auth or the database lost, the key rejected; Cancel on the run's page, or a
purge of the run); 129/130/143 stopped by SIGHUP,
Ctrl-C or SIGTERM after a clean stop.
"""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connection
from django.urls import reverse

from synthadmin.auth import AuthGateway, get_gateway
from synthadmin.csvsafe import csv_writer
from synthadmin.db.errors import connection_lost, database_unusable_message
from synthadmin.exceptions import AuthCancelledError, ConfigurationError, InvalidRequestError
from synthadmin.management import exitcodes
from synthadmin.management.base import SynthadminCommand, command_starter, database_lost_error
from synthadmin.management.files import new_file, new_file_check
from synthadmin.management.generation_options import (
    DEFAULTS,
    generation_arguments_add,
    generation_request_from_options,
    option_message,
    output_arguments_add,
)
from synthadmin.management.generation_report import (
    RunTally,
    dry_run_tables,
    enqueued_table,
    failure_lines,
    report_refusal,
    run_table,
)
from synthadmin.management.links import admin_link
from synthadmin.management.output import one_line, progress_bars, render
from synthadmin.management.preflight import target_preflight
from synthadmin.management.stopping import SignalStop
from synthadmin.models import Scenario
from synthadmin.redaction import redact
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.figures import run_figures
from synthadmin.services.generation import population_generate
from synthadmin.services.logins import credential_row, credentials_writer
from synthadmin.services.population import population_names_check
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.preview import population_preview
from synthadmin.services.reports import Credential, RunReport
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate
from synthadmin.services.scenarios import scenario_request
from synthadmin.services.user_creation import PHASE_CHECKINS
from synthadmin.services.workers import workers_alive


class Command(SynthadminCommand):
    help = "Create synthetic test patients (and therapists) with realistic check-in histories."
    scenario: Scenario | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        generation_arguments_add(parser)
        output_arguments_add(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            request = generation_request_validate(self._request(options))
        except InvalidRequestError as exc:
            raise CommandError(option_message(exc)) from None
        if options["background"] and (options["dry_run"] or options["credentials_out"]):
            why = (
                "--dry-run (a background run always writes; drop --background to preview)"
                if options["dry_run"]
                else "--credentials-out (a worker cannot write your file; the admin offers the logins of "
                "a background run for download once it ends)"
            )
            raise CommandError(f"--background: not with {why}")
        target_preflight(self, verbosity=options["verbosity"])
        try:
            population_names_check(locale=request.locale)  # the database holds the run's names
        except InvalidRequestError as exc:
            raise CommandError(option_message(exc)) from None
        if options["dry_run"]:
            self._dry_run(request, options)
        elif options["background"]:
            self._database_ready()
            self._enqueue(request, options)
        else:
            self._report(self._run(request, options), options)

    def _request(self, options: dict[str, Any]) -> GenerationRequest:
        """The options over the scenario's recipe (``--scenario``) or ``GenerationRequest``'s
        defaults; InvalidRequestError for a value that is not a number or date."""
        base = scenario_request(self._scenario(options)) if options["scenario"] else DEFAULTS
        return generation_request_from_options(options, base)

    def _scenario(self, options: dict[str, Any]) -> Scenario:
        scenario = Scenario.objects.filter(name=options["scenario"]).first()
        if scenario is None:
            names = ", ".join(Scenario.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(
                f"--scenario: no scenario named {options['scenario']!r}; saved scenarios: {names}"
            )
        self.scenario = scenario
        return scenario

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
        credentials_writer(handle)  # the header row
        handle.flush()
        return handle

    def _enqueue(self, request: GenerationParams, options: dict[str, Any]) -> None:
        """``--background``: record and enqueue the run, say how to follow it, return at once."""
        try:
            run = run_enqueue(request=request, started_by=command_starter(), scenario=self.scenario)
        except ConfigurationError as exc:  # Auth unreachable or the key refused: nothing enqueued
            raise CommandError(one_line(str(exc))) from None
        alive = len(workers_alive())
        page = reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
        link = admin_link(page)  # the deployment's address (SYNTHADMIN_ADMIN_URL), when set
        if options["json"]:
            document = {
                "run_id": str(run.pk),
                "status": run.status,
                "admin_path": page,
                "admin_url": link,
                "workers_alive": alive,
                # What it will make: the Preview's figures (run page, list_runs: the same).
                "figures": run_figures(run).as_dict(),
            }
            self.stdout.write(json.dumps(document, indent=2))
        elif options["verbosity"] >= 1:
            self.stdout.write(render(enqueued_table(run, request, link or page, alive)))

    def _run(self, request: GenerationParams, options: dict[str, Any]) -> RunReport:
        """The run in this process, after everything that can refuse it before the first write:
        the gateway, the database, the credentials file (and Auth before the file is made)."""
        # One stop event for the signals and the gateway: Ctrl-C or SIGTERM also ends the Auth
        # calls in flight, not only the users not started yet.
        stop = threading.Event()
        try:
            gateway = get_gateway(cancel=stop)
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None
        try:
            self._database_ready()
            if options["credentials_out"]:
                # The file would be the one thing written before the service's own preflight.
                self._auth_ready(gateway)
            credentials_file = self._open_credentials(options["credentials_out"], force=options["force"])
            try:
                return self._generate(request, gateway, credentials_file, options, stop)
            finally:
                if credentials_file is not None:
                    credentials_file.close()
        finally:
            gateway.close()

    def _generate(
        self,
        request: GenerationParams,
        gateway: AuthGateway,
        credentials_file: TextIO | None,
        options: dict[str, Any],
        stop: threading.Event,
    ) -> RunReport:
        writer = csv_writer(credentials_file) if credentials_file is not None else None

        def keep(credential: Credential) -> None:
            assert writer is not None and credentials_file is not None  # only given when there is a file
            writer.writerow(credential_row(credential))
            credentials_file.flush()

        tally = RunTally()
        self._signals = SignalStop(stop, interrupt=True)
        try:
            bars = progress_bars(verbosity=options["verbosity"], json=options["json"])
            with self._signals, bars or contextlib.nullcontext(None) as drawn:
                tally.forward_to = drawn
                report = population_generate(
                    request=request,
                    scenario=self.scenario,
                    started_by=command_starter(),
                    gateway=gateway,
                    progress=tally,
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
        except KeyboardInterrupt:  # only where SIGINT could not be caught as a clean stop
            where = (
                f"purge_synthetic --run {tally.run_id} settles what it left"
                if tally.run_id is not None
                else "purge_synthetic --all --dry-run shows what is left"
            )
            raise CommandError(
                f"interrupted before the run could record how it ended; python manage.py {where}",
                returncode=exitcodes.INTERRUPTED,
            ) from None
        except DatabaseError as exc:
            if not connection_lost(exc):
                raise
            if options["verbosity"] >= 2:  # the whole error, traceback included (secrets redacted)
                self.stderr.write(redact("".join(traceback.format_exception(exc))).rstrip("\n"))
            raise database_lost_error(
                exc,
                tally.summary(),
            ) from None

    def _dry_run(self, request: GenerationParams, options: dict[str, Any]) -> None:
        """Refuse what the run would refuse before its first write (exit 1, one line), then print
        what it would write (exit 0): the code the real command would exit with, short of the
        users' own fate (2, 3), which only creating them tells."""
        self._would_start(options)
        preview = population_preview(request=request)
        if options["json"]:
            self.stdout.write(json.dumps(preview.as_dict(), indent=2, default=str))
        elif options["verbosity"] >= 1:
            for table in dry_run_tables(preview, request):
                self.stdout.write(render(table))

    def _would_start(self, options: dict[str, Any]) -> None:
        """What ``_run`` checks before it writes, without writing: the gateway, the database,
        Auth (reachable, the key accepted), and the credentials file (created by nothing here)."""
        if options["credentials_out"]:
            new_file_check(
                options["credentials_out"],
                option="--credentials-out",
                force=options["force"],
                holds="it may hold the only copy of earlier passwords",
            )
        try:
            gateway = get_gateway()
        except ConfigurationError as exc:
            raise CommandError(one_line(str(exc))) from None
        try:
            self._database_ready()
            self._auth_ready(gateway)
        finally:
            gateway.close()

    def _report(self, report: RunReport, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        elif options["verbosity"] >= 1:
            self.stdout.write(render(run_table(report)))
            for line in failure_lines(report):
                self.stderr.write(line)
        refusal = report_refusal(report, getattr(self, "_signals", None))
        if refusal is not None:
            raise refusal
