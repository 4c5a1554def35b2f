"""The system check names every NOT NULL-without-default column and every unique index synthadmin
cannot fill — on ``profiles``, ``check_ins`` and the therapist junction — on fixtures built for
each, and stays quiet on the good shapes and on unique indexes it does fill. A command refuses
such a database before it writes anything."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from synthadmin.checks import target_messages
from synthadmin.target import target_read
from tests.invariants import synthetic_counts
from tests.live_schema.test_signup_triggers_of_any_shape import AT_CONFIRMATION, DELEGATING, NO_TRIGGER
from tests.shapes import shape_install


@pytest.fixture
def install(transactional_db):
    yield shape_install
    shape_install("baseline")


def _messages() -> dict[str | None, str]:
    return {m.id: m.msg for m in target_messages(target_read())}


def test_the_good_shapes_have_nothing_unfillable(shape):
    target = target_read()
    assert target.unfillable_check_in_columns() == []
    assert target.unfillable_junction_columns() == []
    assert target.unfillable_unique_indexes() == []
    assert {"synthadmin.E003", "synthadmin.E006"}.isdisjoint(_messages())


@pytest.mark.parametrize(
    ("shape", "extra_sql", "named"),
    [
        (
            "live",
            "ALTER TABLE public.check_ins ADD COLUMN mood_note text NOT NULL",
            "public.check_ins.mood_note",
        ),
        (
            "live",
            "ALTER TABLE public.therapist_patients ADD COLUMN clinic_id uuid NOT NULL",
            "public.therapist_patients.clinic_id",
        ),
        (
            "early",
            "ALTER TABLE public.profiles ADD COLUMN clinic_id uuid NOT NULL",
            "public.profiles.clinic_id",
        ),
    ],
)
def test_not_null_without_default_is_named_wherever_synthadmin_writes(install, shape, extra_sql, named):
    install(shape, extra_sql=extra_sql)
    assert named in _messages()["synthadmin.E003"]


NOT_NULL_PROFILE_COLUMN = "ALTER TABLE public.profiles ADD COLUMN clinic_id uuid NOT NULL;"
#: The live shape's own trigger, disabled: it fires for nobody, so it fills nothing.
DISABLED = "ALTER TABLE auth.users DISABLE TRIGGER on_auth_user_created;"
#: Only a BEFORE INSERT trigger: it runs before the user row exists, so it cannot make the profile.
ONLY_BEFORE = NO_TRIGGER + (
    "CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;"
    "CREATE TRIGGER stamp BEFORE INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.stamp();"
)


@pytest.mark.parametrize(
    ("variant", "excused"),
    [
        ("", True),
        (DELEGATING, True),
        (AT_CONFIRMATION, True),
        (NO_TRIGGER, False),
        (DISABLED, False),
        (ONLY_BEFORE, False),
    ],
    ids=["live-trigger", "delegating", "at-confirmation", "no-trigger", "disabled", "only-before-insert"],
)
def test_a_profile_column_is_excused_by_any_after_trigger_on_auth_users(install, variant, excused):
    """Decided from pg_trigger alone: a trigger whose function calls a helper (its text names no
    table) or that makes the profile at confirmation excuses a NOT NULL profile column; no
    trigger that could make the row is E003, which names the column and the signup trigger."""
    install("live", extra_sql=variant + NOT_NULL_PROFILE_COLUMN)
    messages = {m.id: m for m in target_messages(target_read())}
    if excused:
        assert "synthadmin.E003" not in messages
        # ...but not in silence: the trigger must fill it, and that is not read (W004).
        warning = messages["synthadmin.W004"]
        assert not warning.is_serious()
        assert "must fill public.profiles.clinic_id" in warning.msg
        assert "synthadmin cannot tell whether it does" in warning.msg
        assert "a signup trigger on auth.users (" in warning.msg
        return
    assert "synthadmin.W004" not in messages  # E003 says it already
    error = messages["synthadmin.E003"]
    assert "public.profiles.clinic_id" in error.msg
    assert "no signup trigger on auth.users" in error.msg
    assert "AFTER INSERT or UPDATE trigger on auth.users" in (error.hint or "")


@pytest.mark.parametrize(
    ("shape", "extra_sql", "named"),
    [
        (
            "early",
            "ALTER TABLE public.profiles DROP CONSTRAINT profiles_role_check, "
            "ADD CONSTRAINT profiles_role_key UNIQUE (role)",
            "public.profiles (role) [profiles_role_key]",
        ),
        (
            "early",
            "ALTER TABLE public.profiles ADD CONSTRAINT one_patient_each UNIQUE (therapist_id)",
            "public.profiles (therapist_id) [one_patient_each]",
        ),
        (
            "live",
            "ALTER TABLE public.check_ins ADD CONSTRAINT one_checkin_each UNIQUE (user_id)",
            "public.check_ins (user_id) [one_checkin_each]",
        ),
        (
            "live",
            "CREATE UNIQUE INDEX one_per_day ON public.check_ins (checkin_date)",
            "public.check_ins (checkin_date) [one_per_day]",
        ),
        (
            "live",
            "ALTER TABLE public.therapist_patients ADD CONSTRAINT one_patient_per_therapist UNIQUE (therapist_id)",
            "public.therapist_patients (therapist_id) [one_patient_per_therapist]",
        ),
        (
            "early",
            "ALTER TABLE public.profiles ADD COLUMN phone text, "
            "ADD CONSTRAINT profiles_phone_key UNIQUE NULLS NOT DISTINCT (phone)",
            "public.profiles (phone) [profiles_phone_key]",
        ),
    ],
)
def test_a_unique_index_synthadmin_would_break_is_named(install, shape, extra_sql, named):
    install(shape, extra_sql=extra_sql)
    assert named in _messages()["synthadmin.E006"]


@pytest.mark.parametrize(
    ("shape", "extra_sql"),
    [
        ("early", "ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE (username)"),
        ("live", "CREATE UNIQUE INDEX profiles_username_lower ON public.profiles (lower(username))"),
        ("early", "ALTER TABLE public.profiles ADD CONSTRAINT profiles_email_key UNIQUE (email)"),
        ("early", "ALTER TABLE public.profiles ADD CONSTRAINT role_and_id UNIQUE (role, id)"),
        ("early", "ALTER TABLE public.profiles ADD COLUMN phone text UNIQUE"),
        (
            "early",
            "ALTER TABLE public.profiles ADD COLUMN code uuid UNIQUE NOT NULL DEFAULT gen_random_uuid()",
        ),
        ("early", "CREATE UNIQUE INDEX one_admin ON public.profiles (role) WHERE role = 'admin'"),
        ("live", "ALTER TABLE public.check_ins ADD CONSTRAINT one_a_day UNIQUE (user_id, checkin_date)"),
        ("live", "ALTER TABLE public.check_ins ADD COLUMN n bigserial UNIQUE"),
        ("live", "ALTER TABLE public.therapist_patients ADD CONSTRAINT one_therapist UNIQUE (patient_id)"),
    ],
)
def test_unique_indexes_synthadmin_fills_are_not_named(install, shape, extra_sql):
    install(shape, extra_sql=extra_sql)
    assert target_read().unfillable_unique_indexes() == []
    assert "synthadmin.E006" not in _messages()


@pytest.mark.parametrize(
    ("extra_sql", "check_id"),
    [
        ("ALTER TABLE public.check_ins ADD COLUMN mood_note text NOT NULL", "synthadmin.E003"),
        ("ALTER TABLE public.check_ins ADD CONSTRAINT one_checkin_each UNIQUE (user_id)", "synthadmin.E006"),
    ],
)
def test_generate_refuses_before_creating_anyone(install, extra_sql, check_id):
    """Before: every patient was created in Auth, failed, and was deleted again."""
    install("live", extra_sql=extra_sql)
    with pytest.raises(CommandError) as raised:
        call_command(
            "generate_synthetic", "--patients", "2", "--seed", "1", stdout=StringIO(), stderr=StringIO()
        )
    assert str(raised.value).startswith(f"{check_id}: ")
    assert "\n" not in str(raised.value)
    assert synthetic_counts()["auth_users"] == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM synthadmin.synthadmin_syntheticrun")
        assert cursor.fetchone()[0] == 0


def test_the_live_shape_without_such_a_column_has_no_w004(install):
    install("live")
    target = target_read()
    assert target.has_signup_trigger
    assert target.trigger_filled_profile_columns() == []
    assert "synthadmin.W004" not in _messages()


def test_check_names_a_column_the_live_trigger_does_not_fill(install):
    """The live signup trigger fills id, email, username, role...: not clinic_id. ``check`` says
    so (a warning, exit 0), and so does a command's preflight before it runs."""
    install(
        "live",
        extra_sql=NOT_NULL_PROFILE_COLUMN + "ALTER TABLE public.profiles ADD COLUMN site text NOT NULL;",
    )
    out, err = StringIO(), StringIO()
    call_command("check", "--database", "default", stdout=out, stderr=err)
    report = out.getvalue() + err.getvalue()
    lines = [line for line in report.splitlines() if "synthadmin.W004" in line]
    assert len(lines) == 1, report
    assert "must fill public.profiles.clinic_id, public.profiles.site;" in lines[0]
    assert "on_auth_user_created" in lines[0]
    preflight = StringIO()
    call_command(
        "generate_synthetic",
        "--patients",
        "1",
        "--seed",
        "1",
        "--dry-run",
        stdout=StringIO(),
        stderr=preflight,
    )
    assert [line for line in preflight.getvalue().splitlines() if line.startswith("synthadmin.W004: ")]
