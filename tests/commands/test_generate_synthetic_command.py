"""``manage.py generate_synthetic``: options, validation (nothing written), JSON, dry run, credentials."""

from __future__ import annotations

import csv
import json
import os
import stat
from io import StringIO

import bcrypt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from synthadmin.models import SyntheticRun
from tests.invariants import assert_invariants, synthetic_counts


def _call(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("generate_synthetic", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _nothing_written() -> None:
    assert SyntheticRun.objects.count() == 0
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def test_every_option_and_the_summary(real_population, tmp_path):
    creds = tmp_path / "logins.csv"
    out, _ = _call(
        "--patients",
        "3",
        "--therapists",
        "1",
        "--checkins",
        "21",
        "--pattern",
        "cycling",
        "--seed",
        "99",
        "--end-date",
        "2026-05-31",
        "--adherence",
        "0.7",
        "--locale",
        "en_US",
        "--concurrency",
        "2",
        "--credentials-out",
        str(creds),
    )
    run = SyntheticRun.objects.get()
    assert run.source == "command" and run.started_by.startswith("os:")
    assert run.parameters == {
        "patients": 3,
        "therapists": 1,
        "checkin_days": 21,
        "pattern": "cycling",
        "seed": 99,
        "end_date": "2026-05-31",
        "adherence": 0.7,
        "locale": "en_US",
        "concurrency": 2,
    }
    for expected in (
        "succeeded",
        "patients",
        "therapists",
        "check-ins",
        "retries",
        "failures",
        "duration",
        str(run.id),
        f"purge_synthetic --run {run.id}",
    ):
        assert expected in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(checkin_date) FROM public.check_ins c JOIN public.profiles p ON p.id=c.user_id WHERE p.is_test_patient"
        )
        assert str(cursor.fetchone()[0]) <= "2026-05-31"
    assert_invariants(real_population)


def test_days_is_an_alias_of_checkins(real_population):
    _call("--patients", "1", "--days", "9", "--seed", "1", "--adherence", "1")
    assert SyntheticRun.objects.get().parameters["checkin_days"] == 9
    assert synthetic_counts()["checkins"] == 9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patients", "-1"], "--patients: patients must be between 0 and 10,000, got -1"),
        (["--patients", "10001"], "--patients: patients must be between 0 and 10,000"),
        (["--patients", "five"], "--patients: must be a whole number, got 'five'"),
        (["--patients", "0"], "nothing to create"),
        (["--therapists", "-2"], "--therapists:"),
        (["--checkins", "3651"], "--checkins: checkin_days must be between 0 and 3,650"),
        (["--days", "x"], "--checkins: must be a whole number"),
        (
            ["--pattern", "zigzag"],
            "--pattern: unknown pattern 'zigzag'; valid patterns: stable, cycling, rapid_cycling, depressive, manic, random",
        ),
        (["--seed", "-1"], "--seed:"),
        (["--end-date", "2026-02-30"], "--end-date: must be a date as YYYY-MM-DD, got '2026-02-30'"),
        (["--end-date", "2999-01-01"], "--end-date: end date 2999-01-01 is in the future"),
        (["--adherence", "2"], "--adherence: adherence must be a number above 0 and at most 1"),
        (["--adherence", "often"], "--adherence: must be a number"),
        (["--locale", "klingon"], "--locale: unknown locale 'klingon'"),
        (["--concurrency", "0"], "--concurrency: concurrency must be between 1 and 32"),
        (
            ["--credentials-out", "/nonexistent-dir/x.csv"],
            "--credentials-out: directory /nonexistent-dir does not exist",
        ),
        (["--credentials-out", "/"], "--credentials-out: / is a directory"),
    ],
)
def test_bad_values_give_one_line_and_write_nothing(real_population, args, message):
    with pytest.raises(CommandError) as info:
        _call(*args)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert info.value.returncode == 1
    _nothing_written()
    assert_invariants(real_population)


def test_missing_supabase_key_is_a_configuration_error(real_population, settings):
    settings.SYNTHADMIN_AUTH_BACKEND = "supabase"
    settings.SUPABASE_URL = "https://example.supabase.co"
    settings.SUPABASE_SERVICE_ROLE_KEY = ""
    with pytest.raises(CommandError, match="SUPABASE_SERVICE_ROLE_KEY") as info:
        _call("--patients", "1")
    assert info.value.returncode == 1
    _nothing_written()


def test_json_prints_exactly_one_document_matching_the_database(real_population):
    out, _ = _call("--patients", "2", "--therapists", "1", "--checkins", "10", "--seed", "5", "--json")
    report = json.loads(out)  # the whole of stdout is one JSON document
    run = SyntheticRun.objects.get()
    assert report["run_id"] == str(run.id)
    assert report["status"] == "succeeded" == run.status
    counts = synthetic_counts()
    assert (report["patients_created"], report["therapists_created"], report["checkins_created"]) == (
        counts["patients"],
        counts["therapists"],
        counts["checkins"],
    )
    assert report["purge_command"] == f"python manage.py purge_synthetic --run {run.id}"
    assert "password" not in out


def test_dry_run_writes_nothing_and_shows_the_plan(real_population):
    out, _ = _call(
        "--patients", "4", "--checkins", "60", "--pattern", "depressive", "--seed", "8", "--dry-run"
    )
    assert "nothing was written" in out and "4 patients" in out and "depressed_mild" in out
    assert "First check-ins of" in out
    _nothing_written()
    doc, _ = _call(
        "--patients", "4", "--checkins", "60", "--pattern", "depressive", "--seed", "8", "--dry-run", "--json"
    )
    plan = json.loads(doc)
    assert plan["dry_run"] is True and plan["patients"] == 4 and 0 < plan["checkins"] <= 240
    assert abs(sum(plan["state_shares"].values()) - 1) < 1e-3
    assert len(plan["sample_days"]) == 7
    _nothing_written()
    assert_invariants(real_population)


def test_verbosity_zero_prints_nothing(real_population):
    out, err = _call("--patients", "1", "--checkins", "3", "-v", "0")
    assert out == "" and err == ""
    assert synthetic_counts()["patients"] == 1


def test_credentials_file_is_0600_and_its_passwords_log_in(real_population, tmp_path):
    path = tmp_path / "creds.csv"
    out, _ = _call("--patients", "2", "--therapists", "1", "--checkins", "3", "--credentials-out", str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rows = list(csv.DictReader(path.open()))
    assert [sorted(r) for r in rows] == [["email", "password", "role", "user_id"]] * 3
    assert sorted(r["role"] for r in rows) == ["patient", "patient", "therapist"]
    for row in rows:
        assert row["password"] not in out
        with connection.cursor() as cursor:
            # What GoTrue does on a password sign-in: the user by e-mail, bcrypt against the hash.
            cursor.execute(
                "SELECT id::text, encrypted_password FROM auth.users WHERE lower(email) = lower(%s) "
                "AND instance_id = '00000000-0000-0000-0000-000000000000'",
                [row["email"]],
            )
            user_id, hashed = cursor.fetchone()
        assert user_id == row["user_id"]
        assert bcrypt.checkpw(row["password"].encode(), hashed.encode())
        assert not bcrypt.checkpw(b"wrong password", hashed.encode())


def test_without_credentials_out_no_password_is_stored_or_printed(real_population, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, err = _call("--patients", "1", "--checkins", "2", "--json")
    assert "password" not in out + err
    assert list(tmp_path.iterdir()) == []


def test_partial_run_exits_2_and_names_the_failure(real_population):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION public.synthadmin_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.is_test_patient IS TRUE AND NEW.email LIKE '%.1@example.com' THEN RAISE EXCEPTION 'injected'; "
            "END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_fault BEFORE INSERT OR UPDATE ON public.profiles FOR EACH ROW "
            "EXECUTE FUNCTION public.synthadmin_test_fault()"
        )
    try:
        out, err = StringIO(), StringIO()
        with pytest.raises(CommandError) as info:
            call_command("generate_synthetic", "--patients", "3", "--checkins", "3", stdout=out, stderr=err)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER synthadmin_test_fault ON public.profiles")
            cursor.execute("DROP FUNCTION public.synthadmin_test_fault()")
    assert info.value.returncode == 2
    assert "partial run: 1 user(s) failed" in str(info.value)
    assert "failed: " in err.getvalue() and ".1@example.com" in err.getvalue()
    assert synthetic_counts()["patients"] == 2
    assert_invariants(real_population)
