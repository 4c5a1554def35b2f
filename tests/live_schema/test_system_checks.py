"""Each target check fires on a database built to trigger it, and not on the good shapes."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from synthadmin.checks import target_messages
from synthadmin.target import target_read
from tests.dbutil import database_url, manage
from tests.shapes import shape_install


def _ids(target=None) -> list[str | None]:
    return [m.id for m in target_messages(target or target_read())]


@pytest.fixture
def install(transactional_db):
    yield shape_install
    shape_install("baseline")


def test_the_good_shapes_pass(shape):
    assert _ids() == (["synthadmin.W001"] if shape == "bare" else [])


@pytest.mark.parametrize(
    ("shape", "extra_sql", "check_id", "words"),
    [
        ("live", "DROP TABLE public.profiles CASCADE", "synthadmin.E001", "public.profiles does not exist"),
        ("early", "ALTER TABLE public.profiles DROP COLUMN is_test_patient", "synthadmin.E002", "migrate"),
        (
            "early",
            "ALTER TABLE public.profiles ADD COLUMN clinic_id uuid NOT NULL",
            "synthadmin.E003",
            "clinic_id",
        ),
        (
            "early",
            "ALTER TABLE public.profiles DROP CONSTRAINT profiles_role_check, "
            "ADD CONSTRAINT profiles_role_check CHECK (role IN ('client', 'clinician'))",
            "synthadmin.E004",
            "client, clinician",
        ),
        ("live", "ALTER TABLE public.check_ins DROP COLUMN mood_data", "synthadmin.E005", "mood_data"),
        (
            "live",
            "CREATE TABLE public.prescriptions (id serial PRIMARY KEY, patient_id uuid REFERENCES public.profiles (id))",
            "synthadmin.W002",
            "public.prescriptions.patient_id (NO ACTION)",
        ),
    ],
)
def test_each_check_fires_on_its_fixture(install, shape, extra_sql, check_id, words):
    install(shape, extra_sql=extra_sql)
    messages = {m.id: m for m in target_messages(target_read())}
    assert check_id in messages
    assert words in messages[check_id].msg + (messages[check_id].hint or "")


def test_a_signup_trigger_fills_what_synthadmin_does_not(install):
    # Same NOT NULL column without default, but the live shape's trigger makes the row: no E003.
    install("live", extra_sql="ALTER TABLE public.profiles ADD COLUMN clinic_id uuid NOT NULL")
    assert "synthadmin.E003" not in _ids()


def test_a_table_this_role_cannot_read_is_a_warning(install):
    install(
        "live",
        extra_sql="CREATE TABLE public.secret_notes (user_id uuid REFERENCES public.profiles (id) ON DELETE CASCADE); "
        "DO $$ BEGIN CREATE ROLE synthadmin_test_reader NOLOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; "
        "GRANT USAGE ON SCHEMA public, auth TO synthadmin_test_reader; "
        "GRANT SELECT ON public.profiles, public.check_ins TO synthadmin_test_reader",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE synthadmin_test_reader")
        target = target_read()
        cursor.execute("RESET ROLE")
    messages = {m.id: m for m in target_messages(target)}
    assert "public.secret_notes" in messages["synthadmin.W003"].msg


def test_manage_check_prints_one_line_per_problem_and_fails_on_errors(install):
    install("early", extra_sql="ALTER TABLE public.profiles DROP COLUMN is_test_patient")
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"])}
    result = manage("check", "--database", "default", env=env, check=False)
    assert result.returncode == 1
    assert "(synthadmin.E002) public.profiles has no is_test_patient column" in result.stderr
    # The commands run the same checks before writing anything, one line, exit 1.
    result = manage("generate_synthetic", "--patients", "1", env=env, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "CommandError: synthadmin.E002: public.profiles has no is_test_patient column "
        "(run `python manage.py migrate`: it adds the flag, its index and comment)"
    )
