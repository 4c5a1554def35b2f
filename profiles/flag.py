"""The ``profiles.is_test_patient`` flag: add it where it is missing, remove only what we added.

The app's own migration (API migration 004, see ``docs/target-schema.md``) creates the column,
its index and a comment. synthadmin adds the same three things **only where the column is
missing**; where it exists, nothing is changed (the app's comment stays). What was added is
remembered in ``synthadmin.synthadmin_flag_provenance``, so the reverse removes exactly that
and never a column the app created.

On a live table: the index is built with ``CREATE INDEX CONCURRENTLY`` (no lock that blocks
the app's writes; it cannot run inside a transaction, so the migration is non-atomic) and every
DDL statement runs under a short ``lock_timeout``, so ``migrate`` fails fast instead of queueing
behind — and then blocking — the app's traffic.
"""

from __future__ import annotations

from typing import Any

COLUMN = "is_test_patient"
INDEX = "idx_profiles_is_test_patient"
COMMENT = (
    "Marks synthetic/test users (true) created for QA, demos and load tests, "
    "versus real patients and therapists (false)."
)
#: How long a DDL statement may wait for a lock on public.profiles before migrate gives up.
LOCK_TIMEOUT = "5s"
PROVENANCE_TABLE = "synthadmin.synthadmin_flag_provenance"


def flag_add(cursor: Any) -> list[str]:
    """Add column, index and comment where the column is missing; return what was added.

    ``cursor`` must be in autocommit mode (``CREATE INDEX CONCURRENTLY``). Raises the database
    error when a lock is not granted within ``LOCK_TIMEOUT``; nothing half-made is left (an
    invalid index from an interrupted concurrent build is dropped and rebuilt next time).
    """
    if _column_exists(cursor):
        _drop_invalid_index(cursor)
        return []
    added: list[str] = []
    cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    try:
        cursor.execute(f"ALTER TABLE public.profiles ADD COLUMN IF NOT EXISTS {COLUMN} BOOLEAN DEFAULT FALSE")
        cursor.execute(f"COMMENT ON COLUMN public.profiles.{COLUMN} IS '{COMMENT}'")
        added.append("column")
        _record(cursor, "column")
        _drop_invalid_index(cursor)
        cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON public.profiles ({COLUMN})")
        added.append("index")
        _record(cursor, "index")
    finally:
        cursor.execute("RESET lock_timeout")
    return added


def flag_remove(cursor: Any) -> list[str]:
    """Drop what ``flag_add`` added (from the provenance table); return what was dropped.

    A database flagged by an earlier synthadmin (no provenance table) counts the column as ours
    only when it carries synthadmin's comment, which the app's own migration does not write.
    """
    ours = _recorded(cursor)
    if ours is None:
        ours = {"column", "index"} if _column_comment(cursor) == COMMENT else set()
    dropped: list[str] = []
    cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    try:
        if "index" in ours or "column" in ours:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{INDEX}")
            dropped.append("index")
        if "column" in ours:
            cursor.execute(f"ALTER TABLE public.profiles DROP COLUMN IF EXISTS {COLUMN}")
            dropped.append("column")
    finally:
        cursor.execute("RESET lock_timeout")
    if _recorded(cursor) is not None:
        cursor.execute(f"DELETE FROM {PROVENANCE_TABLE}")  # noqa: S608 - a constant
    return dropped


def _column_exists(cursor: Any) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('public.profiles') "
        "AND attname = %s AND NOT attisdropped)",
        [COLUMN],
    )
    return bool(cursor.fetchone()[0])


def _column_comment(cursor: Any) -> str | None:
    cursor.execute(
        "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass('public.profiles') AND a.attname = %s AND NOT a.attisdropped",
        [COLUMN],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _drop_invalid_index(cursor: Any) -> None:
    """A ``CREATE INDEX CONCURRENTLY`` that was interrupted leaves an INVALID index behind."""
    cursor.execute(
        "SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", [f"public.{INDEX}"]
    )
    row = cursor.fetchone()
    if row and row[0]:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{INDEX}")


def _record(cursor: Any, obj: str) -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {PROVENANCE_TABLE} "
        "(object text PRIMARY KEY, added_at timestamptz NOT NULL DEFAULT now())"
    )
    cursor.execute(
        f"INSERT INTO {PROVENANCE_TABLE} (object) VALUES (%s) ON CONFLICT DO NOTHING",  # noqa: S608 - a constant
        [obj],
    )


def _recorded(cursor: Any) -> set[str] | None:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [PROVENANCE_TABLE])
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(f"SELECT object FROM {PROVENANCE_TABLE}")  # noqa: S608 - a constant
    return {row[0] for row in cursor.fetchall()}
