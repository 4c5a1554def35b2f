"""Reading PostgreSQL errors by SQLSTATE and constraint name, through Django's wrappers.

Django re-raises psycopg errors as ``django.db.IntegrityError`` etc. with the original as
``__cause__``; the diagnostics (SQLSTATE, constraint) live on the psycopg error.
"""

from __future__ import annotations

import psycopg

UNIQUE_VIOLATION = "23505"


def pg_error(exc: BaseException) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (itself, or along its cause/context chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def sqlstate(exc: BaseException) -> str | None:
    error = pg_error(exc)
    return error.sqlstate if error is not None else None


def constraint_name(exc: BaseException) -> str | None:
    error = pg_error(exc)
    return error.diag.constraint_name if error is not None else None
