"""What synthadmin's commands share: option errors are one line and exit 1 (the exit-code table)."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from synthadmin.management import exitcodes


class SynthadminCommand(BaseCommand):
    """A ``BaseCommand`` whose option errors (a typo, a missing value, two exclusive options) are
    one line and exit 1 — "bad input" — instead of argparse's usage dump and exit 2, which the
    exit-code table keeps for "some users failed"."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str) -> NoReturn:
            if getattr(parser, "called_from_command_line", False):
                sys.stderr.write(f"CommandError: {message} (python manage.py {subcommand} --help)\n")
                sys.exit(exitcodes.INVALID)
            raise CommandError(f"Error: {message}")

        parser.error = error  # type: ignore[method-assign]
        return parser
