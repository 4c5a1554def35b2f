"""What every synthadmin session is pinned to: its schema first on the path, ISO dates, UTC."""

from __future__ import annotations

import psycopg

#: The schema that holds every table Django itself manages.
DJANGO_SCHEMA = "synthadmin"
SEARCH_PATH = f"{DJANGO_SCHEMA}, public"

#: What every session synthadmin opens is pinned to, whatever the database or role defaults
#: say (a European ``DateStyle = 'SQL, DMY'``, a ``TimeZone`` of the server's city...).
SESSION_SETTINGS = {"DateStyle": "ISO, MDY", "TimeZone": "UTC", "search_path": SEARCH_PATH}


def session_options(extra: str | None = None) -> str:
    """The libpq ``options`` value that sets :data:`SESSION_SETTINGS` at connect time."""
    pinned = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in SESSION_SETTINGS.items())
    return f"{extra} {pinned}".strip() if extra else pinned


def pin_session(connection: psycopg.Connection) -> None:
    """SET whatever of :data:`SESSION_SETTINGS` the server did not take from ``options``.

    Poolers either refuse the ``options`` startup parameter (PgBouncer) or ignore it (Supavisor),
    so the settings are checked against what the server reports and set when they differ.
    ``search_path`` is not reported by every server version: it is always set.
    """
    statements = [f"SET search_path TO {SEARCH_PATH}"]
    if not (connection.info.parameter_status("DateStyle") or "").startswith("ISO"):
        statements.append("SET DateStyle TO ISO, MDY")
    if connection.info.parameter_status("TimeZone") != "UTC":
        statements.append("SET TimeZone TO 'UTC'")
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements))
