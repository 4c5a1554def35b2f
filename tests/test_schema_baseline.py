"""After ``migrate`` on an empty database: the Supabase shape, and Django kept out of ``public``."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from checkins.models import CheckIn
from profiles.models import AuthUser, Profile

pytestmark = pytest.mark.django_db


def _columns(schema: str, table: str) -> dict[str, tuple[str, str, str | None]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT column_name, data_type, is_nullable, column_default
            FROM information_schema.columns
            WHERE table_schema = %s AND table_name = %s
            """,
            [schema, table],
        )
        return {name: (dtype, nullable, default) for name, dtype, nullable, default in cursor.fetchall()}


def _scalar(query: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchone()[0]


def test_no_django_table_lives_in_public():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        )
        public_tables = [row[0] for row in cursor.fetchall()]
    assert public_tables == [
        "audit_log",
        "check_ins",
        "clinical_notes",
        "crisis_plan",
        "predictions",
        "profiles",
        "therapist_patients",
        "user_consent",
    ]

    managed_tables = {model._meta.db_table for model in apps.get_models() if model._meta.managed}
    assert "auth_user" in managed_tables and "django_session" in managed_tables
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'synthadmin'")
        in_synthadmin = {row[0] for row in cursor.fetchall()}
    assert managed_tables <= in_synthadmin
    assert "django_migrations" in in_synthadmin


def test_unmanaged_models_resolve_to_the_supabase_tables():
    for model, qualified in (
        (Profile, "public.profiles"),
        (CheckIn, "public.check_ins"),
        (AuthUser, "auth.users"),
    ):
        assert not model._meta.managed
        oid = _scalar("SELECT to_regclass(%s)::oid", [qualified])
        assert oid is not None
        query = str(model.objects.all().query)
        schema, table = qualified.split(".")
        assert f'"{schema}"."{table}"' in query
    # And the ORM really reads them.
    assert Profile.objects.count() == 0
    assert CheckIn.objects.count() == 0
    assert AuthUser.objects.count() == 0


def test_profiles_has_the_live_shape_plus_the_flag():
    cols = _columns("public", "profiles")
    assert set(cols) == {
        "id",
        "email",
        "username",
        "role",
        "created_at",
        "updated_at",
        "is_test_patient",
        "source",
        "deletion_scheduled_at",
        "deleted_at",
        "deletion_token",
    }
    assert cols["id"][:2] == ("uuid", "NO")
    assert cols["email"][:2] == ("text", "YES")
    assert cols["username"][:2] == ("text", "YES")
    assert cols["role"] == ("text", "NO", "'patient'::text")
    assert cols["source"] == ("text", "YES", "'unknown'::text")
    assert cols["created_at"] == ("timestamp with time zone", "YES", "now()")
    assert cols["is_test_patient"] == ("boolean", "YES", "false")
    assert _scalar("SELECT relrowsecurity FROM pg_class WHERE oid = 'public.profiles'::regclass")
    assert "Marks synthetic/test users" in _scalar(
        "SELECT col_description('public.profiles'::regclass, "
        "(SELECT attnum FROM pg_attribute WHERE attrelid = 'public.profiles'::regclass "
        "AND attname = 'is_test_patient'))"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname='public' AND tablename='profiles'")
        indexes = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.profiles'::regclass"
        )
        constraints = dict(cursor.fetchall())
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal"
        )
        auth_triggers = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.therapist_patients'::regclass"
        )
        junction = dict(cursor.fetchall())
    assert indexes == {
        "profiles_pkey",
        "idx_profiles_role",
        "idx_profiles_source",
        "idx_profiles_deleted_at",
        "idx_profiles_is_test_patient",
    }
    assert "REFERENCES auth.users(id) ON DELETE CASCADE" in constraints["profiles_id_fkey"]
    assert all(role in constraints["profiles_role_check"] for role in ("patient", "therapist", "admin"))
    assert auth_triggers == {"on_auth_user_created"}
    assert junction["therapist_patients_patient_id_key"] == "UNIQUE (patient_id)"
    assert "ON DELETE CASCADE" in junction["therapist_patients_therapist_id_fkey"]


def test_the_signup_trigger_makes_the_profile_with_the_role_from_user_metadata(supabase_tables_cleanup):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, raw_user_meta_data) VALUES "
            "('00000000-0000-0000-0000-000000000000', '22222222-2222-4222-8222-222222222222', "
            "'authenticated', '', 'dr@example.org', '{\"role\": \"therapist\"}'), "
            "('00000000-0000-0000-0000-000000000000', '33333333-3333-4333-8333-333333333333', "
            "'authenticated', '', 'p@example.org', '{}')"
        )
        cursor.execute("SELECT email, role, is_test_patient, source FROM public.profiles ORDER BY email")
        assert cursor.fetchall() == [
            ("dr@example.org", "therapist", False, "unknown"),
            ("p@example.org", "patient", False, "unknown"),
        ]


def test_check_ins_has_the_target_shape():
    cols = _columns("public", "check_ins")
    jsonb = [
        "sleep_data",
        "mood_data",
        "symptoms_data",
        "risk_routine_data",
        "appetite_impulse_data",
        "meds_context_data",
    ]
    assert set(cols) == {"id", "user_id", "checkin_date", "created_at", "updated_at", *jsonb}
    assert cols["id"] == ("uuid", "NO", "gen_random_uuid()")
    assert cols["user_id"][:2] == ("uuid", "NO")
    assert cols["checkin_date"][:2] == ("date", "NO")
    for column in jsonb:
        assert cols[column] == ("jsonb", "YES", "'{}'::jsonb")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.check_ins'::regclass"
        )
        constraints = dict(cursor.fetchall())
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname='public' AND tablename='check_ins'")
        indexdefs = " | ".join(row[0] for row in cursor.fetchall())
    assert constraints["unique_checkin_per_user_per_day"] == "UNIQUE (user_id, checkin_date)"
    assert "REFERENCES profiles(id) ON DELETE CASCADE" in constraints["check_ins_user_id_fkey"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT qual FROM pg_policies WHERE tablename = 'check_ins' AND policyname LIKE 'Therapists%%'"
        )
        assert "therapist_patients" in cursor.fetchone()[0]
    assert "(user_id)" in indexdefs and "(checkin_date)" in indexdefs
    assert "(user_id, checkin_date DESC)" in indexdefs
    assert _scalar("SELECT relrowsecurity FROM pg_class WHERE oid = 'public.check_ins'::regclass")


def test_auth_schema_matches_gotrue():
    cols = _columns("auth", "users")
    for name in (
        "instance_id",
        "id",
        "aud",
        "role",
        "email",
        "encrypted_password",
        "email_confirmed_at",
        "confirmation_token",
        "recovery_token",
        "email_change_token_new",
        "email_change",
        "email_change_token_current",
        "phone_change",
        "phone_change_token",
        "reauthentication_token",
        "raw_app_meta_data",
        "raw_user_meta_data",
        "created_at",
        "updated_at",
        "phone",
        "confirmed_at",
        "is_sso_user",
        "is_anonymous",
        "deleted_at",
        "banned_until",
    ):
        assert name in cols, name
    for no_default in ("confirmation_token", "recovery_token", "email_change_token_new", "email_change"):
        assert cols[no_default][2] is None
    assert cols["is_sso_user"][:3] == ("boolean", "NO", "false")
    assert (
        _scalar(
            "SELECT attgenerated FROM pg_attribute WHERE attrelid='auth.users'::regclass AND attname='confirmed_at'"
        )
        == "s"
    )
    assert _scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname='auth' AND indexname='users_email_partial_key'"
    ).endswith("(email) WHERE (is_sso_user = false)")
    identity_cols = _columns("auth", "identities")
    assert set(identity_cols) >= {"id", "provider_id", "user_id", "identity_data", "provider", "email"}
    assert _scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'identities_user_id_fkey'"
    ).endswith("ON DELETE CASCADE")
    # auth.uid() reads the request's JWT claims and is NULL on a direct connection.
    assert _scalar("SELECT auth.uid()") is None
