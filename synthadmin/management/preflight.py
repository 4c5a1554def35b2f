"""Before a command writes anything: synthadmin's target checks, one line each."""

from __future__ import annotations

from django.core import checks
from django.core.management.base import BaseCommand, CommandError

from synthadmin.checks import TAG, check_lines


def target_preflight(command: BaseCommand, *, verbosity: int) -> None:
    """Print warnings (one line each, on stderr); raise CommandError on the first error.

    Every error but the last is printed first, so each gets its own line and the command still
    ends with one line that names a fix (exit 1, nothing written).
    """
    messages = checks.run_checks(tags=[TAG], databases=["default"])
    errors = check_lines([m for m in messages if m.is_serious()])
    warnings = check_lines([m for m in messages if not m.is_serious()])
    if verbosity > 0:
        for line in warnings:
            command.stderr.write(line)
    if errors:
        for line in errors[:-1]:
            command.stderr.write(line)
        raise CommandError(errors[-1])
