"""``migrate`` against a database shaped like a real Supabase project changes only the flag.

The production shape: ``auth`` owned by another role, with no CREATE for the role that runs
``migrate``; ``public.profiles`` and ``public.check_ins`` present and owned by that role, the
flag absent. After ``migrate``, the only changes in ``auth`` and ``public`` are the flag column,
its index and its comment; Django's tables appear in the ``synthadmin`` schema only.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.dbutil import ROOT, admin_conninfo, database_url, manage, scratch_database

pytestmark = pytest.mark.django_db

SNAPSHOT_QUERIES = {
    "relations": """
        SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relrowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('auth', 'public') ORDER BY 1, 2
    """,
    "columns": """
        SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema IN ('auth', 'public') ORDER BY 1, 2, 3
    """,
    "constraints": """
        SELECT n.nspname, conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname IN ('auth', 'public') ORDER BY 1, 2, 3
    """,
    "indexes": "SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname IN ('auth', 'public') ORDER BY 1, 2",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('auth', 'public') AND NOT tgisinternal ORDER BY 1, 2
    """,
    "policies": "SELECT schemaname, tablename, policyname, qual FROM pg_policies WHERE schemaname IN ('auth','public') ORDER BY 1,2,3",
    "functions": """
        SELECT n.nspname, p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('auth', 'public') ORDER BY 1, 2
    """,
    "comments": """
        SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
        WHERE n.nspname IN ('auth', 'public') AND col_description(c.oid, a.attnum) IS NOT NULL
        ORDER BY 1, 2
    """,
    "schemas": "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1",
}


def _snapshot(dbname: str) -> dict[str, set[tuple]]:
    with psycopg.connect(admin_conninfo(dbname)) as conn:
        return {name: set(conn.execute(query).fetchall()) for name, query in SNAPSHOT_QUERIES.items()}


def _build_production_shape(dbname: str, owner: str, auth_admin: str) -> None:
    auth_sql = (ROOT / "profiles/sql/auth_schema.sql").read_text()
    profiles_sql = (ROOT / "profiles/sql/profiles_table.sql").read_text()
    check_ins_sql = (ROOT / "checkins/sql/check_ins_table.sql").read_text()
    with psycopg.connect(admin_conninfo(dbname), autocommit=True) as conn:
        ident = sql.Identifier
        # auth belongs to Supabase Auth's role, as on a hosted project.
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(dbname), ident(auth_admin)))
        conn.execute(sql.SQL("SET ROLE {}").format(ident(auth_admin)))
        conn.execute(auth_sql)
        conn.execute("RESET ROLE")
        # Since April 2025 the project's `postgres` keeps DML on auth tables but not CREATE there.
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA auth TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT REFERENCES ON auth.users TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(dbname), ident(owner)))
        # The app's tables belong to the project owner role, without the flag.
        conn.execute(sql.SQL("SET ROLE {}").format(ident(owner)))
        conn.execute(profiles_sql)
        conn.execute(check_ins_sql)
        conn.execute("RESET ROLE")
        has_create = conn.execute(
            "SELECT has_schema_privilege(%s, 'auth', 'CREATE')", [owner]
        ).fetchone()[0]
        assert has_create is False


def test_migrate_as_non_superuser_owner_adds_only_the_flag():
    suffix = uuid.uuid4().hex[:8]
    owner, auth_admin = f"sa_owner_{suffix}", f"sa_auth_admin_{suffix}"
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        for role in (owner, auth_admin):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(sql.Identifier(role)))
    try:
        with scratch_database("prodshape") as dbname:
            _build_production_shape(dbname, owner, auth_admin)
            before = _snapshot(dbname)

            result = manage("migrate", "--no-input", env={"DATABASE_URL": database_url(dbname, user=owner)})
            assert "Applying profiles.0002_is_test_patient... OK" in result.stdout
            after = _snapshot(dbname)

            added = {name: after[name] - before[name] for name in after}
            removed = {name: before[name] - after[name] for name in after}
            assert all(not rows for rows in removed.values()), removed
            assert added["columns"] == {("public", "profiles", "is_test_patient", "boolean", "YES", "false")}
            assert {row[1] for row in added["indexes"]} == {"idx_profiles_is_test_patient"}
            assert [row[:2] for row in added["comments"]] == [("profiles", "is_test_patient")]
            assert {row[1] for row in added["relations"]} == {"idx_profiles_is_test_patient"}
            assert added["schemas"] == {("synthadmin", owner)}
            for name in ("constraints", "triggers", "policies", "functions"):
                assert added[name] == set(), name

            with psycopg.connect(admin_conninfo(dbname)) as conn:
                django_in_public = conn.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema='public' "
                    "AND table_name LIKE ANY (ARRAY['django_%%', 'auth_%%'])"
                ).fetchone()[0]
                assert django_in_public == 0
                assert conn.execute("SELECT to_regclass('synthadmin.django_migrations')").fetchone()[0]
    finally:
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            for role in (owner, auth_admin):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_sql_files_exist():
    for path in ("profiles/sql/auth_schema.sql", "profiles/sql/profiles_table.sql", "checkins/sql/check_ins_table.sql"):
        assert Path(ROOT, path).is_file()
