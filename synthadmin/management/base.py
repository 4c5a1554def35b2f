"""What synthadmin's commands share: option errors are one line and exit 1 (the exit-code table),
the ``--run ID`` option's type, who a command's run is started by, and the one line for a lost
database."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from synthadmin.db.errors import connection_lost, database_lost_message
from synthadmin.management import exitcodes
from synthadmin.models import SyntheticRun
from synthadmin.services.ledger import Starter


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


def run_id(text: str) -> uuid.UUID:
    """``--run ID``'s argparse ``type``: a run id (a UUID); a bad one is an option error."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a run id: {text!r}") from None


def command_starter() -> Starter:
    """Who starts a command's run: ``os:<the OS user>`` (``uid<n>`` when it has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return Starter(f"os:{user}", source=SyntheticRun.Source.COMMAND)


def database_lost_error(exc: DatabaseError, kept: str) -> CommandError:
    """Exit 3 (stopped part way) for a lost database connection: which database and what
    happened (no password), then ``kept`` — what the work done before it left, and what to do."""
    return CommandError(
        f"{database_lost_message(connection.settings_dict, exc)}. {kept}", returncode=exitcodes.STOPPED
    )


@contextlib.contextmanager
def stops_as_command_errors(*, interrupted: str, lost: str) -> Iterator[None]:
    """Ctrl-C (exit 130) and a lost database (exit 3) as one line each: ``interrupted`` and
    ``lost`` say what the work done before it kept, and what to do."""
    try:
        yield
    except KeyboardInterrupt:
        raise CommandError(interrupted, returncode=exitcodes.INTERRUPTED) from None
    except DatabaseError as exc:
        if not connection_lost(exc):
            raise
        raise database_lost_error(exc, lost) from None
