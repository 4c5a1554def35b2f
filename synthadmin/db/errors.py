"""Reading PostgreSQL errors: by SQLSTATE and constraint name, and whether the session is gone.

Django re-raises psycopg errors as ``django.db.IntegrityError`` etc. with the original as
``__cause__``; the diagnostics (SQLSTATE, constraint) live on the psycopg error. Decided by type
and SQLSTATE, never by the words of the message: "the connection is lost" is Django's
``InterfaceError`` (a connection already closed), psycopg's connection-level ``OperationalError``
(no SQLSTATE: the socket closed), class 08 (connection exception) and 57P01-57P03 (the server
shut the session down: ``pg_terminate_backend``, a restart, a crash).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError

from synthadmin.db.base import configured_by, describe

UNIQUE_VIOLATION = "23505"
#: lock_not_available: a lock wait longer than the session's ``lock_timeout``.
LOCK_NOT_AVAILABLE = "55P03"
#: SQLSTATEs that say the session is gone (not that a statement failed).
SESSION_GONE = {"57P01", "57P02", "57P03"}


def error_chain(exc: BaseException, *, implicit: bool = True) -> Iterator[BaseException]:
    """``exc``, then each error it was raised from (``__cause__``; with ``implicit``, the
    ``__context__`` of an error without a cause), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (current.__context__ if implicit else None)


def pg_error(exc: BaseException) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (itself, or along its cause/context chain)."""
    return next((e for e in error_chain(exc) if isinstance(e, psycopg.Error)), None)


def sqlstate(exc: BaseException) -> str | None:
    error = pg_error(exc)
    return error.sqlstate if error is not None else None


def constraint_name(exc: BaseException) -> str | None:
    error = pg_error(exc)
    return error.diag.constraint_name if error is not None else None


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it was raised from) says the database connection is gone."""
    for current in error_chain(exc):
        if isinstance(current, InterfaceError | psycopg.InterfaceError):
            return True
        if isinstance(current, OperationalError | psycopg.OperationalError):
            error = pg_error(current)
            state = error.sqlstate if error is not None else None
            if state is None or state.startswith("08") or state in SESSION_GONE:
                return True
    return False


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (psycopg adds ``LINE 1:`` and carets below it)."""
    error = pg_error(exc) or exc
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def database_lost_message(settings_dict: dict[str, Any], exc: BaseException) -> str:
    """One line: the connection to which database was lost, why, and what to check."""
    return f"lost the database ({describe(settings_dict)}: {first_line(exc)}); {configured_by(settings_dict)}"


def database_unusable_message(settings_dict: dict[str, Any], exc: BaseException) -> str:
    """One line for a database that could not be used at all (nothing was written)."""
    return f"cannot use the database ({first_line(exc)}); {configured_by(settings_dict)}"


def lock_wait_exceeded(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it was raised from) is a lock wait cut by ``lock_timeout``."""
    return sqlstate(exc) == LOCK_NOT_AVAILABLE


def lock_wait_message(exc: BaseException, seconds: float) -> str:
    """One line for a statement that waited longer than ``SYNTHADMIN_LOCK_TIMEOUT`` for a lock."""
    return (
        f"a statement waited more than {seconds:g} s for a lock another session holds "
        f"({first_line(exc)}; SYNTHADMIN_LOCK_TIMEOUT); what was written before it stays, "
        "run the same command again once that session ends"
    )
