"""``python manage.py export_synthetic``: synthetic check-ins as flat CSV or JSON lines (thin adapter).

One row per check-in with the six JSONB objects flattened into named columns, the patient id, run,
pattern and the ground-truth state of the day (``synthadmin.services.export``; the data dictionary
is in the README). Streamed: memory stays flat whatever the size. Exit codes: 0 done; 1 bad input
(one line), nothing written.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError, CommandParser

from synthadmin.exceptions import InvalidRequestError
from synthadmin.management.base import SynthadminCommand, run_id
from synthadmin.management.files import new_file
from synthadmin.services.export import FORMATS, checkins_export_chunks


class Command(SynthadminCommand):
    help = "Export synthetic check-ins (a flat row each, with the day's ground-truth state) as CSV or JSONL."

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument(
            "--run", type=run_id, metavar="ID", help="the run to export (its id, as the run report shows)"
        )
        scope.add_argument("--all", action="store_true", help="every synthetic patient of every run")
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
        parser.add_argument(
            "--output",
            metavar="PATH",
            help="a new file to write (default: standard output); never overwritten",
        )
        parser.add_argument(
            "--force", action="store_true", help="let --output replace an existing regular file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            blocks = checkins_export_chunks(run=options["run"], fmt=options["format"])
        except InvalidRequestError as exc:
            raise CommandError(f"--{exc.field}: {exc}") from None
        began = time.monotonic()
        lines = 0
        if options["output"]:
            out = new_file(options["output"], option="--output", force=options["force"])
            try:
                with out:
                    for block in blocks:
                        out.write(block)
                        lines += block.count("\n")
            except OSError as exc:
                raise CommandError(f"--output: cannot write {options['output']}: {exc.strerror}") from None
        else:
            for block in blocks:
                self.stdout.write(block, ending="")
                lines += block.count("\n")
        rows = lines - 1 if options["format"] == "csv" and lines else lines
        if options["verbosity"] > 0:
            where = options["output"] or "standard output"
            self.stderr.write(f"Exported {rows:,} check-ins to {where} in {time.monotonic() - began:.1f} s")
