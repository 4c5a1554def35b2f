"""The database shapes synthadmin must work on, installed in the test database from SQL the tests own.

``live``: therapist_patients junction, a signup trigger on auth.users (with its own body), source,
soft delete, dependents, and the flag already there with the app's comment. ``early``:
``profiles.therapist_id``, no trigger. ``bare``: no therapist link, no trigger. ``baseline``:
what ``migrate`` builds on an empty database (the state every other test runs on).
"""

from __future__ import annotations

from django.db import connection

from profiles.flag import flag_add
from synthadmin.target import target_cache_clear
from tests.dbutil import ROOT

SHAPES = ("live", "early", "bare")
SHAPES_DIR = ROOT / "tests" / "sql" / "shapes"
BASELINE_SQL = ROOT / "profiles" / "sql" / "profiles_table.sql"
CHECK_INS_SQL = ROOT / "checkins" / "sql" / "check_ins_table.sql"


def shape_install(name: str, *, extra_sql: str = "") -> None:
    """Replace everything in ``public`` (and any trigger it put on auth.users) with shape ``name``.

    Auth users are emptied first (their profiles go with ``public``). The flag is then added the
    way ``migrate`` adds it (a no-op where the shape has it). ``extra_sql`` runs last.
    """
    source = BASELINE_SQL if name == "baseline" else SHAPES_DIR / f"{name}.sql"
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE auth.users CASCADE")
        cursor.execute("DROP SCHEMA public CASCADE")
        cursor.execute("CREATE SCHEMA public")
        cursor.execute("DROP TABLE IF EXISTS synthadmin.synthadmin_flag_provenance")
        cursor.execute(source.read_text(encoding="utf-8"))
        cursor.execute(CHECK_INS_SQL.read_text(encoding="utf-8"))
        flag_add(cursor)
        if extra_sql:
            cursor.execute(extra_sql)
    target_cache_clear()
