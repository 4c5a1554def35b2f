#!/usr/bin/env python
"""Django's command-line utility for synthadmin."""

import gc
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


def _detailed(argv: list[str]) -> bool:
    """True when the user asked for details (``-v 2``/``-v 3`` or ``--traceback``)."""
    for i, arg in enumerate(argv):
        if arg == "--traceback" or arg in ("-v2", "-v3", "--verbosity=2", "--verbosity=3"):
            return True
        if arg in ("-v", "--verbosity") and i + 1 < len(argv) and argv[i + 1] in ("2", "3"):
            return True
    return False


def _closed_pipe() -> None:
    """Standard output's reader is gone (``… | head``): end quietly, as a program killed by
    SIGPIPE would (exit 141 = 128 + SIGPIPE), without a traceback. Whatever the command had to
    clean up, it did on the way out (its ``finally`` blocks ran); what is still buffered for
    the closed pipe goes to /dev/null, so Python's own flush at exit does not complain."""
    from synthadmin.management.exitcodes import CLOSED_PIPE

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(CLOSED_PIPE)


#: Commands that run a task worker: their connections are named "synthadmin worker".
WORKERS = {"synthadmin_worker": "worker", "rqworker": "worker", "db_worker": "worker"}


def _stopped(name: str, code: int) -> None:
    """A signal ended the command where no run was there to stop cleanly (while it started, or
    in a command that only reads): one line and ``128 + signal``, not a traceback (Ctrl-C) nor a
    silent death (SIGTERM, SIGHUP). What the command had in ``finally`` blocks ran on the way."""
    sys.stderr.write(f"synthadmin: stopped by {name}\n")
    sys.exit(code)


def main() -> None:
    # First of all, before the imports of Django take their second or two: SIGTERM and SIGHUP
    # raise StopSignal (as Ctrl-C raises KeyboardInterrupt), seen below; a run replaces them
    # with its clean stop while it goes (management.stopping).
    from synthadmin.failpoints import MANAGE_STARTING, failpoint
    from synthadmin.management.exitcodes import INTERRUPTED
    from synthadmin.management.stopping import StopSignal, stop_signals_raise
    from synthadmin.startup import collection_pause

    stop_signals_raise()
    collection_pause()  # until Django's apps are ready (synthadmin.startup)
    try:
        failpoint(MANAGE_STARTING)  # tests only: a signal while the command starts
        _main()
    except KeyboardInterrupt:
        _stopped("SIGINT", INTERRUPTED)
    except StopSignal as stop:
        _stopped(stop.signum.name, stop.exit_code)


def _main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
    if not _quiet(sys.argv):
        # Say once, on stderr, which database this command talks to.
        os.environ.setdefault("SYNTHADMIN_ANNOUNCE_DATABASE", "1")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError, InterfaceError, OperationalError

    from synthadmin.db.session import process_role_set

    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        # Every connection says who opened it: "synthadmin generate_synthetic", "synthadmin worker"...
        process_role_set(WORKERS.get(sys.argv[1], sys.argv[1]))

    try:
        execute_from_command_line(sys.argv)
        sys.stdout.flush()  # a reader that closed the pipe is found here, not at interpreter exit
    except BrokenPipeError:
        _closed_pipe()
    except ImproperlyConfigured as exc:
        # A configuration mistake deserves one line that says what to fix, not a traceback.
        from synthadmin.redaction import redact

        message = " ".join(str(exc).split())
        sys.stderr.write(f"synthadmin: configuration error: {redact(message)}\n")
        sys.exit(1)
    except (OperationalError, InterfaceError) as exc:
        # Commands that write handle a lost database themselves (exit 3, with what they wrote);
        # here: any other command, or a database that could not be used at all (exit 1).
        from django.db import connection

        from synthadmin.db.errors import connection_lost, database_lost_message, database_unusable_message
        from synthadmin.db.pooler import connected_once
        from synthadmin.management.exitcodes import INVALID, STOPPED
        from synthadmin.redaction import redact

        settings_dict = connection.settings_dict
        if connected_once(settings_dict) and connection_lost(exc):
            sys.stderr.write(f"synthadmin: {redact(database_lost_message(settings_dict, exc))}\n")
            sys.exit(STOPPED)
        sys.stderr.write(f"synthadmin: {redact(database_unusable_message(settings_dict, exc))}\n")
        sys.exit(INVALID)
    except DatabaseError as exc:
        # Any other database error a user can cause: its first line (no SQL carets); -v 2 shows all.
        import traceback

        from django.conf import settings

        from synthadmin.db.errors import first_line, lock_wait_exceeded, lock_wait_message
        from synthadmin.management.exitcodes import STOPPED
        from synthadmin.redaction import redact

        if lock_wait_exceeded(exc):  # the app holds a lock longer than SYNTHADMIN_LOCK_TIMEOUT
            sys.stderr.write(f"synthadmin: {lock_wait_message(exc, settings.SYNTHADMIN_LOCK_TIMEOUT)}\n")
            sys.exit(STOPPED)

        if _detailed(sys.argv):
            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        sys.stderr.write(f"synthadmin: database error: {redact(first_line(exc))}\n")
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    finally:
        # The command's work is done (its files closed, its output flushed): what is left goes
        # back to the system whole when the process ends. Python's own last collections over
        # every object the imports made (Django, the admin, Faker, numpy) took 0.4-0.7 s of
        # each command's wall time (bench/bench_latency.py); frozen, they are not traversed
        # again. Shutdown still frees what reference counting frees; only cyclic garbage is
        # left to the system, as at any process exit.
        gc.freeze()
