"""``python manage.py scenario``: list, show, run, reset, export and import scenarios (a thin adapter).

    scenario list
    scenario export demo-clinic [--output demo.toml]
    scenario import demo.toml [--replace]
    scenario run demo-clinic
    scenario reset demo-clinic --yes

Exit codes as every command (README, "Exit codes and signals").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.management import exitcodes
from synthadmin.management.base import SynthadminCommand, command_starter
from synthadmin.management.files import new_file
from synthadmin.management.output import key_value_table, one_line, render
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.reports import RunReport
from synthadmin.services.scenarios import (
    SCENARIO_MAX_CHARS,
    scenario_export,
    scenario_import,
    scenario_mix_text,
    scenario_reset,
    scenario_run,
)
from synthadmin.text import plural


class Command(SynthadminCommand):
    help = "Scenarios: named recipes for a synthetic population (list, export, import, run, reset)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="the saved scenarios")
        for name in ("show", "run", "export"):
            action = sub.add_parser(name, help=f"{name} one scenario")
            action.add_argument("name")
            if name == "export":
                action.add_argument("--output", default=None, help="write the TOML here (default: stdout)")
        reset = sub.add_parser("reset", help="purge the scenario's earlier runs, then run it again")
        reset.add_argument("name")
        reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        imported = sub.add_parser("import", help="read a scenario from a TOML file")
        imported.add_argument("path")
        imported.add_argument("--replace", action="store_true", help="overwrite a scenario of that name")
        for action in sub.choices.values():
            # -v after the subcommand too (``scenario list -v 0``), as every other command takes it
            # last; SUPPRESS keeps the value given before the subcommand when none is given after.
            action.add_argument(
                "-v",
                "--verbosity",
                type=int,
                choices=[0, 1, 2, 3],
                default=argparse.SUPPRESS,
                help="verbosity: 0 minimal, 1 normal, 2 verbose, 3 very verbose",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"_{action}")(options)
        except InvalidRequestError as exc:
            raise CommandError(one_line(str(exc))) from None

    def _list(self, options: dict[str, Any]) -> None:
        for scenario in Scenario.objects.all():
            mix = scenario_mix_text(scenario)
            self.stdout.write(
                f"{scenario.name}: {plural(scenario.therapists, 'therapist')}, "
                f"{plural(scenario.patients, 'patient')} ({mix}), "
                f"{plural(scenario.checkin_days, 'day')}{' [built-in]' if scenario.built_in else ''}"
            )

    def _show(self, options: dict[str, Any]) -> None:
        self.stdout.write(scenario_export(_scenario(options["name"])))

    def _export(self, options: dict[str, Any]) -> None:
        text = scenario_export(_scenario(options["name"]))
        if options["output"] is None:
            self.stdout.write(text)
            return
        try:
            with new_file(options["output"], option="--output") as handle:
                handle.write(text)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {options['output']}: {exc.strerror}") from None

    def _import(self, options: dict[str, Any]) -> None:
        # Never more than the service could accept (4 bytes a character at most, and a BOM): a
        # huge file is refused by its size, not read into memory.
        most = 4 * SCENARIO_MAX_CHARS + 3
        try:
            with Path(options["path"]).open("rb") as handle:
                data = handle.read(most + 1)
            if len(data) > most:
                raise CommandError(
                    f"cannot read {options['path']}: over {most:,} bytes; a scenario is at most "
                    f"{SCENARIO_MAX_CHARS:,} characters"
                )
            text = data.decode("utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {options['path']}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"cannot read {options['path']}: not UTF-8 text (byte {exc.start:,}); save it as UTF-8"
            ) from None
        scenario = scenario_import(text, replace=options["replace"])
        self.stdout.write(f"scenario {scenario.name} saved")

    def _run(self, options: dict[str, Any]) -> None:
        report = scenario_run(scenario=_scenario(options["name"]), started_by=command_starter())
        self._report(report)

    def _reset(self, options: dict[str, Any]) -> None:
        scenario = _scenario(options["name"])
        if not options["yes"]:
            raise CommandError("reset purges the scenario's earlier runs: pass --yes to go ahead")
        try:
            reset = scenario_reset(scenario=scenario, started_by=command_starter())
        except SynthadminError as exc:
            raise CommandError(one_line(str(exc)), returncode=exitcodes.STOPPED) from None
        self.stdout.write(
            f"purged {reset.purge.users_deleted} user(s) of {len(reset.purge.runs)} earlier run(s)"
        )
        if reset.run is None:
            first = (reset.purge.left_alone or reset.purge.blocked or reset.purge.errors or [""])[0]
            raise CommandError(f"{reset.reason}: {one_line(first)}", returncode=exitcodes.PARTIAL)
        self._report(reset.run)

    def _report(self, report: RunReport) -> None:
        by_pattern = sorted(report.patients_by_pattern.items(), key=lambda item: -item[1])
        rows = [
            ("status", report.status),
            ("patients", f"{report.patients_created:,}"),
            *[(f"  {pattern.replace('_', ' ')}", f"{count:,}") for pattern, count in by_pattern],
            ("therapists", f"{report.therapists_created:,}"),
            ("check-ins", f"{report.checkins_created:,}"),
            ("run id", str(report.run_id)),
        ]
        self.stdout.write(render(key_value_table("Scenario run", rows)))
        if report.status != SyntheticRun.Status.SUCCEEDED:
            raise CommandError(
                f"run {report.status}: {one_line(report.error)}",
                returncode=exitcodes.PARTIAL if report.status == "partial" else exitcodes.STOPPED,
            )


def _scenario(name: str) -> Scenario:
    scenario = Scenario.objects.filter(name=name).first()
    if scenario is None:
        names = ", ".join(Scenario.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(f"no scenario named {name!r}; saved scenarios: {names}")
    return scenario
