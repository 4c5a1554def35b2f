"""What every synthadmin session is pinned to: its schema first on the path, ISO dates, UTC, a
short ``lock_timeout``, and a name that tells the app's operators who is connected."""

from __future__ import annotations

import psycopg

#: The schema that holds every table Django itself manages.
DJANGO_SCHEMA = "synthadmin"
SEARCH_PATH = f"{DJANGO_SCHEMA}, public"

#: What every session synthadmin opens is pinned to, whatever the database or role defaults
#: say (a European ``DateStyle = 'SQL, DMY'``, a ``TimeZone`` of the server's city...).
SESSION_SETTINGS = {"DateStyle": "ISO, MDY", "TimeZone": "UTC", "search_path": SEARCH_PATH}

#: ``application_name`` of every connection: this, then the process's role.
APPLICATION = "synthadmin"
_role = ""


def process_role_set(role: str) -> None:
    """Say what this process is (``web``, ``worker``, a command's name): every connection it
    opens from now on is named ``synthadmin <role>`` (``pg_stat_activity.application_name``)."""
    global _role
    _role = " ".join(role.split())


def application_name() -> str:
    """``synthadmin``, or ``synthadmin <role>`` once the process said what it is (at most 63
    bytes, PostgreSQL's limit)."""
    name = f"{APPLICATION} {_role}" if _role else APPLICATION
    return name.encode()[:63].decode(errors="ignore")


def session_options(extra: str | None = None, *, lock_timeout_ms: int | None = None) -> str:
    """The libpq ``options`` value that sets :data:`SESSION_SETTINGS` (and ``lock_timeout``, when
    given) at connect time."""
    values = dict(SESSION_SETTINGS)
    if lock_timeout_ms is not None:
        values["lock_timeout"] = f"{lock_timeout_ms}ms"
    pinned = " ".join(f"-c {name}={value.replace(' ', '')}" for name, value in values.items())
    return f"{extra} {pinned}".strip() if extra else pinned


def pin_session(connection: psycopg.Connection, *, lock_timeout_ms: int) -> int:
    """Set :data:`SESSION_SETTINGS` and ``lock_timeout`` on the session, in one statement; the
    server's own id of the session (``pg_backend_pid()``), read in the same statement.

    Poolers either refuse the ``options`` startup parameter (PgBouncer) or ignore it (Supavisor),
    and not every server version reports ``search_path``: so the settings are always set, each
    with ``set_config``, in the one round trip a new connection costs after its handshake.
    ``lock_timeout_ms``: 0 waits for a lock for as long as it takes.
    """
    values = {**SESSION_SETTINGS, "lock_timeout": f"{lock_timeout_ms}ms"}
    columns = ", ".join("set_config(%s, %s, false)" for _ in values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, pg_backend_pid()",
            [item for pair in values.items() for item in pair],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[-1])
