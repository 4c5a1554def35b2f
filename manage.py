#!/usr/bin/env python
"""Django's command-line utility for synthadmin."""

import os
import sys


def _quiet(argv: list[str]) -> bool:
    """True when the command was asked to print nothing but errors (``-v 0``)."""
    for i, arg in enumerate(argv):
        if arg in ("-v", "--verbosity") and i + 1 < len(argv) and argv[i + 1] == "0":
            return True
        if arg in ("-v0", "--verbosity=0"):
            return True
    return False


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
    if not _quiet(sys.argv):
        # Say once, on stderr, which database this command talks to.
        os.environ.setdefault("SYNTHADMIN_ANNOUNCE_DATABASE", "1")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake deserves one line that says what to fix, not a traceback.
        sys.stderr.write(f"synthadmin: configuration error: {exc}\n")
        sys.exit(1)
    except OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"synthadmin: cannot use the database ({first_line}); check DATABASE_URL "
            "(unset, synthadmin uses its embedded PostgreSQL)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
