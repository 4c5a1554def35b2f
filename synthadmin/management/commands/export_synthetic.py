"""``python manage.py export_synthetic``: synthetic check-ins as flat CSV or JSON lines (thin adapter).

One row per check-in with the six JSONB objects flattened into named columns, the patient id, run,
pattern and the ground-truth state of the day (``synthadmin.services.export``; the data dictionary
is in the docs). Streamed in short transactions: memory stays flat whatever the size, and a slow
reader (a paused pipe) holds no transaction open.

Exit codes: 0 done (a partial export of a run still in progress says so on stderr); 1 bad input,
or a purge or an extend holds the run (one line), nothing written; 3 stopped part way (the
database lost or an error mid-read): nothing is left at ``--output`` (the file appears only once
whole), on standard output what was written is incomplete; 129/130/143 SIGHUP, Ctrl-C or SIGTERM,
the same way (the export is read-only: it stops where it is, its hidden partial file removed);
141 standard output closed by its reader (``manage.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, connection

from synthadmin.db.errors import connection_lost, database_lost_message, first_line
from synthadmin.exceptions import InvalidRequestError
from synthadmin.failpoints import EXPORT_AFTER_BLOCK, failpoint
from synthadmin.management import exitcodes
from synthadmin.management.base import SynthadminCommand, run_id
from synthadmin.management.files import file_when_complete
from synthadmin.management.stopping import StopSignal, stop_signals_raising
from synthadmin.services.export import FORMATS, CheckinsExport, checkins_export_chunks


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
            help="a new file to write (default: standard output); never overwritten, and there only "
            "once the export is whole",
        )
        parser.add_argument(
            "--force", action="store_true", help="let --output replace an existing regular file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            export = checkins_export_chunks(run=options["run"], fmt=options["format"])
        except InvalidRequestError as exc:  # an unknown run, or one a purge or an extend holds
            raise CommandError(f"--{exc.field}: {exc}") from None
        began = time.monotonic()
        try:
            with stop_signals_raising(), export:
                if export.partial:
                    self.stderr.write(f"Partial export: {export.partial}")
                if options["output"]:
                    self._to_file(export, options["output"], force=options["force"])
                else:
                    self._copy(export, lambda block: self.stdout.write(block, ending=""), where="")
        except KeyboardInterrupt:
            kept = "nothing kept" if options["output"] else "standard output is incomplete"
            raise CommandError(f"interrupted; {kept}", returncode=exitcodes.INTERRUPTED) from None
        except StopSignal as stop:  # SIGTERM, SIGHUP: as Ctrl-C
            kept = "nothing kept" if options["output"] else "standard output is incomplete"
            raise CommandError(f"stopped by {stop.signum.name}; {kept}", returncode=stop.exit_code) from None
        if options["verbosity"] > 0:
            where = options["output"] or "standard output"
            partial = " (partial)" if export.partial else ""
            self.stderr.write(
                f"Exported {export.rows:,} check-ins{partial} to {where} in {time.monotonic() - began:.1f} s"
            )

    def _to_file(self, export: CheckinsExport, path: str, *, force: bool) -> None:
        """Write the export to ``path``, which appears only once the export is whole
        (``file_when_complete``): a failure part way leaves nothing there."""
        try:
            with file_when_complete(path, option="--output", force=force) as out:
                self._copy(export, out.write, where=path)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {path}: {exc.strerror}; nothing kept") from None

    def _copy(self, export: CheckinsExport, write: Callable[[str], object], *, where: str) -> None:
        """Every block through ``write`` (to ``where``, "" for standard output); a database error
        part way is exit 3 with one line."""
        try:
            for block in export:
                write(block)
                failpoint(EXPORT_AFTER_BLOCK)  # tests only: a block written, the next not read
        except DatabaseError as exc:
            cause = (
                database_lost_message(connection.settings_dict, exc)
                if connection_lost(exc)
                else f"database error: {first_line(exc)}"
            )
            kept = f"nothing kept at {where}" if where else "standard output is incomplete"
            raise CommandError(
                f"export stopped part way after {export.rows:,} check-ins ({cause}); {kept}",
                returncode=exitcodes.STOPPED,
            ) from None
