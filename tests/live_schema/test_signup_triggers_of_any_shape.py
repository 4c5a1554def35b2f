"""Signup triggers of any shape, on the live shape, through both Auth paths: synthadmin decides
by what the database does, not by reading trigger text. A trigger that delegates to a helper, a
profile made only when the e-mail is confirmed (``AFTER UPDATE OF email_confirmed_at``), and no
trigger at all: every user made on its first attempt and flagged (the trigger's row taken over,
no "user id already taken", no Auth user created and deleted again). A trigger that fails: a
truthful stop, nothing of ours left. Real rows byte-identical in every case."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from synthadmin.target import target_cache_clear, target_read
from tests.invariants import assert_invariants, synthetic_counts

END = dt.date(2026, 6, 30)

# The helper holds the INSERT; the trigger function only calls it (its text names no table).
DELEGATING = """
DROP TRIGGER on_auth_user_created ON auth.users;
CREATE FUNCTION public.make_account(account uuid, address text, meta jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO public.profiles (id, email, role, username, source)
    VALUES (account, address, COALESCE(meta ->> 'role', 'patient'), meta ->> 'username', 'signup');
END $$;
CREATE FUNCTION public.on_signup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.make_account(NEW.id, NEW.email, NEW.raw_user_meta_data);
    RETURN NEW;
END $$;
CREATE TRIGGER on_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.on_signup();
"""
# The profile appears when the e-mail is confirmed (GoTrue confirms in the create's transaction).
AT_CONFIRMATION = """
DROP TRIGGER on_auth_user_created ON auth.users;
CREATE TRIGGER on_email_confirmed AFTER UPDATE OF email_confirmed_at ON auth.users FOR EACH ROW
    WHEN (OLD.email_confirmed_at IS NULL AND NEW.email_confirmed_at IS NOT NULL)
    EXECUTE FUNCTION public.handle_new_user();
"""
NO_TRIGGER = "DROP TRIGGER on_auth_user_created ON auth.users;"
FAILING = """
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.make_account_that_is_gone(NEW.id);
    RETURN NEW;
END $$;
"""


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


# Records the source each profile row was inserted with (the signup trigger writes 'signup'),
# outside ``public`` (whose every row the real-rows snapshot compares).
INSERTS_RECORDED = """
DROP SCHEMA IF EXISTS shape_probe CASCADE;
CREATE SCHEMA shape_probe;
CREATE TABLE shape_probe.profile_inserts (source text);
CREATE FUNCTION shape_probe.profile_inserted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO shape_probe.profile_inserts VALUES (NEW.source);
    RETURN NEW;
END $$;
CREATE TRIGGER profile_inserted AFTER INSERT ON public.profiles
    FOR EACH ROW EXECUTE FUNCTION shape_probe.profile_inserted();
"""


@pytest.fixture
def recorded_inserts(live_shape):
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS shape_probe CASCADE")


def _variant(sql: str) -> None:
    """Change the live shape's signup trigger (after the real users were made under the original)."""
    with connection.cursor() as cursor:
        cursor.execute(sql + INSERTS_RECORDED)
    target_cache_clear()


def _generate(backend: str, request: pytest.FixtureRequest):
    gateway = request.getfixturevalue("supabase_gateway") if backend == "supabase" else None
    return population_generate(
        request=GenerationRequest(patients=6, therapists=2, checkin_days=10, seed=21, end_date=END),
        started_by=Starter("os:tester"),
        gateway=gateway,
    )


@pytest.mark.parametrize("backend", ["local", "supabase"])
@pytest.mark.parametrize(
    ("variant", "makes_the_row"),
    [(DELEGATING, True), (AT_CONFIRMATION, True), (NO_TRIGGER, False)],
    ids=["delegating", "at-confirmation", "no-trigger"],
)
def test_every_user_is_made_on_its_first_attempt(
    live_shape, real_rows, backend, variant, makes_the_row, request
):
    _variant(variant)
    # The catalog says only whether an AFTER INSERT / UPDATE trigger exists (no text is read);
    # the write does not even need that: it takes over whatever row it meets.
    assert target_read().has_signup_trigger is makes_the_row

    report = _generate(backend, request)

    assert report.status == "succeeded", report.error
    assert report.retries == {} and report.failures == []
    counts = synthetic_counts()
    assert (counts["patients"], counts["therapists"], counts["auth_users"]) == (6, 2, 8)
    # One attempt per user: nothing collided, nothing created in Auth and deleted again.
    assert _rows("SELECT state, count(*) FROM synthadmin_syntheticuser GROUP BY state") == [("complete", 8)]
    # Every profile is ours in full: flagged, source synthetic, our role, username and e-mail.
    assert _rows(
        "SELECT count(*) FROM public.profiles p JOIN auth.users u ON u.id = p.id "
        "WHERE u.raw_app_meta_data ? 'synthadmin' AND p.is_test_patient AND p.source = 'synthetic' "
        "AND p.email = u.email AND p.username IS NOT NULL AND p.role = u.raw_user_meta_data ->> 'role'"
    ) == [(8,)]
    # Who inserted each profile: the trigger (its row then taken over) or synthadmin.
    inserted_by = "signup" if makes_the_row else "synthetic"
    assert _rows("SELECT source, count(*) FROM shape_probe.profile_inserts GROUP BY source") == [
        (inserted_by, 8)
    ]
    assert_invariants(real_rows)


@pytest.mark.parametrize("backend", ["local", "supabase"])
def test_a_failing_trigger_stops_the_run_truthfully(recorded_inserts, real_rows, backend, request):
    _variant(FAILING)

    report = _generate(backend, request)

    assert report.status == "failed"
    assert report.patients_created == report.therapists_created == 0
    assert "a trigger or constraint on auth.users" in report.stopped_by
    assert "already taken" not in report.error
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert _rows("SELECT count(*) FROM synthadmin_syntheticuser WHERE state = 'intent'") == [(0,)]
    assert_invariants(real_rows)
