"""The is_test_patient migration: applied, reversed, re-applied, and a no-op where it exists."""

from __future__ import annotations

import psycopg
import pytest

from tests.dbutil import admin_conninfo, database_url, fetch_one, manage, scratch_database

pytestmark = pytest.mark.django_db


def _flag_state(dbname: str) -> tuple[bool, bool, bool]:
    """(column exists, index exists, both Supabase tables exist)."""
    with psycopg.connect(admin_conninfo(dbname)) as conn:
        column = fetch_one(
            conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema='public' "
                "AND table_name='profiles' AND column_name='is_test_patient'"
            )
        )[0]
        index = fetch_one(conn.execute("SELECT to_regclass('public.idx_profiles_is_test_patient')"))[0]
        tables = fetch_one(
            conn.execute(
                "SELECT to_regclass('public.profiles') IS NOT NULL AND to_regclass('public.check_ins') IS NOT NULL"
            )
        )[0]
    return bool(column), index is not None, bool(tables)


def test_migrate_reverse_flag_then_migrate_again():
    with scratch_database("flag") as dbname:
        env = {"DATABASE_URL": database_url(dbname)}
        manage("migrate", "--no-input", env=env)
        assert _flag_state(dbname) == (True, True, True)

        manage("migrate", "profiles", "0001_supabase_baseline", "--no-input", env=env)
        assert _flag_state(dbname) == (False, False, True)

        manage("migrate", "--no-input", env=env)
        assert _flag_state(dbname) == (True, True, True)


def test_flag_migration_is_a_no_op_where_the_column_already_exists():
    with scratch_database("flagexists") as dbname:
        env = {"DATABASE_URL": database_url(dbname)}
        manage("migrate", "profiles", "0001_supabase_baseline", "--no-input", env=env)
        with psycopg.connect(admin_conninfo(dbname), autocommit=True) as conn:
            # Production may already have the column (the app's own migration 004) with data.
            conn.execute("ALTER TABLE public.profiles ADD COLUMN is_test_patient BOOLEAN DEFAULT FALSE")
            conn.execute(
                "INSERT INTO auth.users (id, instance_id, aud, role, email, created_at, updated_at) "
                "VALUES ('11111111-1111-4111-8111-111111111111', '00000000-0000-0000-0000-000000000000', "
                "'authenticated', 'authenticated', 'real@example.org', now(), now())"
            )
            conn.execute(
                "INSERT INTO public.profiles (id, email, role, is_test_patient) "
                "VALUES ('11111111-1111-4111-8111-111111111111', 'real@example.org', 'patient', NULL) "
                "ON CONFLICT (id) DO UPDATE SET is_test_patient = NULL"  # the signup trigger made it
            )
        manage("migrate", "--no-input", env=env)
        # The app's column is the app's: no index, no comment, no data change is added to it.
        assert _flag_state(dbname) == (True, False, True)
        with psycopg.connect(admin_conninfo(dbname)) as conn:
            # Existing values (here NULL) are left alone: the migration never rewrites data.
            assert fetch_one(conn.execute("SELECT is_test_patient FROM public.profiles"))[0] is None
            assert (
                fetch_one(
                    conn.execute(
                        "SELECT col_description('public.profiles'::regclass, attnum) FROM pg_attribute "
                        "WHERE attrelid = 'public.profiles'::regclass AND attname = 'is_test_patient'"
                    )
                )[0]
                is None
            )
        # And reversing the migration leaves the column that synthadmin did not create.
        manage("migrate", "profiles", "0001_supabase_baseline", "--no-input", env=env)
        assert _flag_state(dbname) == (True, False, True)
