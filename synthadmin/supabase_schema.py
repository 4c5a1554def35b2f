"""Bring up the Supabase-shaped baseline in a database that does not have it yet.

The baseline migrations call these helpers. Each one looks first and does nothing when the
object already exists: on a real Supabase project the tables are there, ``auth`` belongs to
``supabase_auth_admin`` and the ``postgres`` role may not run DDL in it.
"""

from __future__ import annotations

from pathlib import Path

from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def table_exists(schema_editor: BaseDatabaseSchemaEditor, qualified_name: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [qualified_name])
        return bool(cursor.fetchone()[0])


def create_unless_exists(schema_editor: BaseDatabaseSchemaEditor, *, table: str, sql_file: Path) -> bool:
    """Run ``sql_file`` when ``table`` (schema-qualified) is missing; True when it ran."""
    if table_exists(schema_editor, table):
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql_file.read_text(encoding="utf-8"))
    return True
