"""``python manage.py generate_synthetic``: create synthetic test patients (a thin adapter).

Parses and validates the options, calls ``synthetic_generate`` (the same service as the admin's
"Generate synthetic data" button), and reports. Exit codes: 0 all created; 1 bad input or
configuration; 2 partial (some users failed after retries); 130 interrupted (clean stop).
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from synthadmin.auth import AuthGateway, get_gateway
from synthadmin.content import DEFAULT_ADHERENCE, PATTERN_NAMES
from synthadmin.exceptions import ConfigurationError, InvalidRequestError
from synthadmin.management.output import RichProgress, key_value_table, render
from synthadmin.management.preflight import target_preflight
from synthadmin.models import SyntheticRun
from synthadmin.services.generation import Starter, synthetic_generate
from synthadmin.services.preview import synthetic_generate_preview
from synthadmin.services.reports import Credential, RunReport
from synthadmin.services.requests import GenerationRequest, generation_request_validate

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
}

EXIT_PARTIAL = 2
EXIT_INTERRUPTED = 130


class Command(BaseCommand):
    help = "Create synthetic test patients (and therapists) with realistic check-in histories."

    def add_arguments(self, parser: CommandParser) -> None:
        # Numbers arrive as text and are validated here, so every bad value gets the same
        # one-line CommandError (exit 1) instead of argparse's usage dump (exit 2).
        parser.add_argument("--patients", default="5", metavar="N", help="patients to create (default 5)")
        parser.add_argument("--therapists", default="0", metavar="M", help="therapists to create (default 0)")
        parser.add_argument(
            "--checkins",
            "--days",
            dest="checkins",
            default="30",
            metavar="D",
            help="days of check-in history per patient (default 30)",
        )
        parser.add_argument(
            "--pattern", default="stable", help=f"mood pattern: {', '.join(PATTERN_NAMES)} (default stable)"
        )
        parser.add_argument("--seed", default=None, help="seed for reproducible content (default: random)")
        parser.add_argument(
            "--end-date", default=None, metavar="YYYY-MM-DD", help="last day of history (default today)"
        )
        parser.add_argument(
            "--adherence",
            default=str(DEFAULT_ADHERENCE),
            help=f"share of days with a check-in, 0-1 (default {DEFAULT_ADHERENCE})",
        )
        parser.add_argument("--locale", default="pt_BR", help="Faker locale for names (default pt_BR)")
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
            help="write email,password,role,user_id of every created user to PATH (CSV, mode 0600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        request = self._request(options)
        try:
            request = generation_request_validate(request)
        except InvalidRequestError as exc:
            raise CommandError(self._option_message(exc)) from None
        target_preflight(self, verbosity=options["verbosity"])
        if options["dry_run"]:
            self._dry_run(request, options)
            return
        try:
            gateway = get_gateway()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        credentials_file = self._open_credentials(options["credentials_out"])
        try:
            report = self._generate(request, gateway, credentials_file, options)
        finally:
            gateway.close()
            if credentials_file is not None:
                credentials_file.close()
        self._report(report, options)

    # --- parsing -----------------------------------------------------------------------
    def _request(self, options: dict[str, Any]) -> GenerationRequest:
        return GenerationRequest(
            patients=_int("--patients", options["patients"]),
            therapists=_int("--therapists", options["therapists"]),
            checkin_days=_int("--checkins", options["checkins"]),
            pattern=options["pattern"],
            seed=None if options["seed"] is None else _int("--seed", options["seed"]),
            end_date=None if options["end_date"] is None else _date("--end-date", options["end_date"]),
            adherence=_float("--adherence", options["adherence"]),
            locale=options["locale"],
            concurrency=None
            if options["concurrency"] is None
            else _int("--concurrency", options["concurrency"]),
        )

    def _option_message(self, exc: InvalidRequestError) -> str:
        option = OPTION_OF_FIELD.get(exc.field or "", "")
        return f"{option}: {exc}" if option else str(exc)

    def _open_credentials(self, path: str | None) -> TextIO | None:
        if path is None:
            return None
        target = Path(path).expanduser()
        if target.is_dir():
            raise CommandError(f"--credentials-out: {target} is a directory; give a file path")
        if not target.parent.is_dir():
            raise CommandError(f"--credentials-out: directory {target.parent} does not exist")
        try:
            # Created 0600 from the start: the passwords are never readable by anyone else.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
        except OSError as exc:
            raise CommandError(f"--credentials-out: cannot write {target}: {exc.strerror}") from None
        handle = os.fdopen(fd, "w", newline="", encoding="utf-8")
        csv.writer(handle).writerow(["email", "password", "role", "user_id"])
        handle.flush()
        return handle

    # --- running -----------------------------------------------------------------------
    def _generate(
        self,
        request: GenerationRequest,
        gateway: AuthGateway,
        credentials_file: TextIO | None,
        options: dict[str, Any],
    ) -> RunReport:
        writer = csv.writer(credentials_file) if credentials_file is not None else None

        def keep(credential: Credential) -> None:
            writer.writerow([credential.email, credential.password, credential.role, credential.user_id])
            credentials_file.flush()

        starter = Starter(f"os:{_os_user()}", source=SyntheticRun.Source.COMMAND)
        show_bars = options["verbosity"] >= 1 and not options["json"] and sys.stderr.isatty()
        try:
            if show_bars:
                with RichProgress() as progress:
                    return synthetic_generate(
                        request=request,
                        started_by=starter,
                        gateway=gateway,
                        progress=progress,
                        credentials=keep if writer else None,
                    )
            return synthetic_generate(
                request=request, started_by=starter, gateway=gateway, credentials=keep if writer else None
            )
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted; users already created are complete. Remove them with: "
                "python manage.py purge_synthetic --all --dry-run (then without --dry-run)",
                returncode=EXIT_INTERRUPTED,
            ) from None

    def _dry_run(self, request: GenerationRequest, options: dict[str, Any]) -> None:
        preview = synthetic_generate_preview(request=request)
        if options["json"]:
            self.stdout.write(json.dumps(preview.as_dict(), indent=2, default=str))
            return
        if options["verbosity"] < 1:
            return
        rows = [
            ("would create", f"{preview.patients} patients, {preview.therapists} therapists"),
            ("check-ins", f"{preview.checkins:,}"),
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
                ("therapists", str(report.therapists_created)),
                ("check-ins", f"{report.checkins_created:,}"),
                ("retries", retries),
                ("failures", str(report.users_failed)),
                ("duration", f"{report.duration_seconds:.1f} s"),
                ("auth backend", report.auth_backend),
                ("seed", str(report.seed)),
                ("run id", str(report.run_id)),
                ("purge with", report.purge_command),
            ]
            self.stdout.write(render(key_value_table("Synthetic run", rows)))
            for failure in report.failures:
                self.stderr.write(f"failed: {failure.email} ({failure.role}): {failure.reason}")
        if report.status == SyntheticRun.Status.SUCCEEDED:
            return
        if report.status == SyntheticRun.Status.PARTIAL:
            raise CommandError(
                f"partial run: {report.users_failed} user(s) failed after retries (listed above); "
                f"the rest are complete. {report.purge_command} removes them",
                returncode=EXIT_PARTIAL,
            )
        if report.status == SyntheticRun.Status.ABORTED:
            raise CommandError(
                f"interrupted: no user was left half-written. Remove this run with: {report.purge_command}",
                returncode=EXIT_INTERRUPTED,
            )
        raise CommandError(f"run failed: {report.error}. Run id {report.run_id}")


def _int(option: str, value: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise CommandError(f"{option}: must be a whole number, got {value!r}") from None


def _float(option: str, value: str) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise CommandError(f"{option}: must be a number, got {value!r}") from None


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CommandError(f"{option}: must be a date as YYYY-MM-DD, got {value!r}") from None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"
