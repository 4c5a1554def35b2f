"""``migrate`` against a database shaped like a real Supabase project changes only the flag.

The production shape: ``auth`` owned by another role, with no CREATE for the role that runs
``migrate``; ``public.profiles`` and ``public.check_ins`` present and owned by that role, the
flag absent. After ``migrate``, the only changes in ``auth`` and ``public`` are the flag column,
its index and its comment; Django's tables appear in the ``synthadmin`` schema only.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from tests.dbutil import ROOT, admin_conninfo, database_url, fetch_one, manage, scratch_database

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


def _build_production_shape(dbname: str, owner: str, auth_admin: str, shape: str) -> None:
    auth_sql = (ROOT / "profiles/sql/auth_schema.sql").read_text()
    public_sql = (ROOT / f"tests/sql/shapes/{shape}.sql").read_text()
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
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO {}").format(
                ident(owner)
            )
        )
        conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT REFERENCES ON auth.users TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(ident(owner)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(ident(dbname), ident(owner)))
        # The app's tables (and its signup trigger on auth.users, which the project's migrations
        # created with more rights than migrate has), then handed to the project owner role.
        conn.execute(public_sql)
        conn.execute(check_ins_sql)
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall():
            conn.execute(sql.SQL("ALTER TABLE public.{} OWNER TO {}").format(ident(table), ident(owner)))
        has_create = fetch_one(conn.execute("SELECT has_schema_privilege(%s, 'auth', 'CREATE')", [owner]))[0]
        assert has_create is False


@pytest.fixture
def roles():
    suffix = uuid.uuid4().hex[:8]
    owner, auth_admin = f"sa_owner_{suffix}", f"sa_auth_admin_{suffix}"
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        for role in (owner, auth_admin):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                    sql.Identifier(role)
                )
            )
    yield owner, auth_admin
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        for role in (owner, auth_admin):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _migrate_and_diff(dbname: str, owner: str) -> dict[str, set[tuple]]:
    before = _snapshot(dbname)
    manage("migrate", "--no-input", env={"DATABASE_URL": database_url(dbname, user=owner)})
    after = _snapshot(dbname)
    removed = {name: before[name] - after[name] for name in after}
    assert all(not rows for rows in removed.values()), removed
    added = {name: after[name] - before[name] for name in after}
    assert added["schemas"] == {("synthadmin", owner)}
    with psycopg.connect(admin_conninfo(dbname)) as conn:
        django_in_public = fetch_one(
            conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema='public' "
                "AND table_name LIKE ANY (ARRAY['django_%%', 'auth_%%'])"
            )
        )[0]
        assert django_in_public == 0
        assert fetch_one(conn.execute("SELECT to_regclass('synthadmin.django_migrations')"))[0]
    return added


def _comment(dbname: str) -> str | None:
    with psycopg.connect(admin_conninfo(dbname)) as conn:
        return fetch_one(
            conn.execute(
                "SELECT col_description('public.profiles'::regclass, attnum) FROM pg_attribute "
                "WHERE attrelid = 'public.profiles'::regclass AND attname = 'is_test_patient'"
            )
        )[0]


def test_migrate_on_the_live_shape_changes_nothing_and_its_reverse_keeps_the_apps_column(roles):
    owner, auth_admin = roles
    with scratch_database("liveshape", drop_at_exit=True) as dbname:  # its roles are dropped after
        _build_production_shape(dbname, owner, auth_admin, "live")
        added = _migrate_and_diff(dbname, owner)
        # The flag was already there: not a column, index, comment, trigger or policy more.
        for name in (
            "columns",
            "indexes",
            "comments",
            "relations",
            "constraints",
            "triggers",
            "policies",
            "functions",
        ):
            assert added[name] == set(), name
        assert _comment(dbname) == "App: true for test users (API migration 004)"

        manage(
            "migrate",
            "profiles",
            "0001_supabase_baseline",
            "--no-input",
            env={"DATABASE_URL": database_url(dbname, user=owner)},
        )
        assert _comment(dbname) == "App: true for test users (API migration 004)"  # column kept


def test_migrate_as_non_superuser_owner_adds_only_the_flag_where_it_is_missing(roles):
    owner, auth_admin = roles
    with scratch_database("earlyshape", drop_at_exit=True) as dbname:  # its roles are dropped after
        _build_production_shape(dbname, owner, auth_admin, "early")
        added = _migrate_and_diff(dbname, owner)
        assert added["columns"] == {("public", "profiles", "is_test_patient", "boolean", "YES", "false")}
        assert {row[1] for row in added["indexes"]} == {"idx_profiles_is_test_patient"}
        assert [row[:2] for row in added["comments"]] == [("profiles", "is_test_patient")]
        assert {row[1] for row in added["relations"]} == {"idx_profiles_is_test_patient"}
        for name in ("constraints", "triggers", "policies", "functions"):
            assert added[name] == set(), name

        manage(
            "migrate",
            "profiles",
            "0001_supabase_baseline",
            "--no-input",
            env={"DATABASE_URL": database_url(dbname, user=owner)},
        )
        with psycopg.connect(admin_conninfo(dbname)) as conn:
            assert (
                fetch_one(
                    conn.execute(
                        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.profiles'::regclass "
                        "AND attname = 'is_test_patient' AND NOT attisdropped"
                    )
                )[0]
                == 0
            )
