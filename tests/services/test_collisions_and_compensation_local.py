"""Identity collisions, failed database writes and compensation, with real PostgreSQL errors."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from django.db import connection

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import user_creation
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.population import population_build
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import insert_real_user, snapshot_real_rows

END = dt.date(2026, 6, 30)


def _run(**kwargs):
    request = GenerationRequest(
        **{"seed": 21, "end_date": END, "checkin_days": 10, "concurrency": 1, **kwargs}
    )
    return population_generate(request=request, started_by=Starter("os:tester"))


@pytest.fixture
def db_trigger(supabase_tables_cleanup):
    """Install a real trigger on public.profiles for the test; dropped afterwards."""
    created = []

    def install(body: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                # Only on synthadmin's own write (the row being flagged), not on a signup trigger's insert.
                "CREATE OR REPLACE FUNCTION public.synthadmin_test_fault() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN IF NEW.is_test_patient IS TRUE THEN {body} END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER synthadmin_test_fault BEFORE INSERT OR UPDATE ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_fault()"
            )
        created.append(True)

    yield install
    if created:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS synthadmin_test_fault ON public.profiles")
            cursor.execute("DROP FUNCTION IF EXISTS public.synthadmin_test_fault()")


def test_duplicate_id_gets_a_fresh_uuid_and_never_touches_the_owner(real_population, monkeypatch):
    taken = insert_real_user(email="owner-of-the-id@example.org", checkins=2)
    real = snapshot_real_rows()
    ids = itertools.chain([taken], iter(uuid.uuid4, None))
    monkeypatch.setattr(user_creation, "new_user_id", lambda: next(ids))

    report = _run(patients=2)

    assert report.status == "succeeded"
    assert report.retries == {"duplicate_id": 1}
    collided = SyntheticUser.objects.get(user_id=taken)
    assert collided.state == "collided"
    assert synthetic_counts()["patients"] == 2
    assert_invariants(real)


def test_duplicate_email_gets_a_fresh_email(real_population, monkeypatch):
    monkeypatch.setattr(SyntheticRun, "tag", property(lambda self: "fixedtag"))
    _, patients = population_build(
        seed=21, run_tag="fixedtag", therapists=0, patients=2, locale="pt_BR", email_domain="example.com"
    )
    insert_real_user(email=patients[0].email())  # someone already has the first patient's e-mail
    real = snapshot_real_rows()

    report = _run(patients=2)

    assert report.status == "succeeded"
    assert report.retries == {"duplicate_email": 1}
    emails = {e for (e,) in _q("SELECT email FROM public.profiles WHERE is_test_patient")}
    assert patients[0].email(2) in emails and patients[1].email() in emails
    assert_invariants(real)


def test_three_collisions_fail_that_user_only(real_population, monkeypatch):
    taken = insert_real_user(email="always-taken@example.org")
    real = snapshot_real_rows()
    # The therapist (created first, alone in its phase) draws call 1 and succeeds; all three
    # attempts of the patient (calls 2-4) draw an id a real user already has.
    calls = itertools.count(1)
    monkeypatch.setattr(
        user_creation, "new_user_id", lambda: taken if 2 <= next(calls) <= 4 else uuid.uuid4()
    )

    report = _run(patients=1, therapists=1)

    assert report.status == "partial"
    assert report.retries == {"duplicate_id": 3}
    assert len(report.failures) == 1 and report.failures[0].role == "patient"
    assert "user id already taken on all 3 attempts" in report.failures[0].reason
    assert (report.therapists_created, report.patients_created) == (1, 0)
    assert SyntheticUser.objects.filter(state="collided").count() == 3
    assert_invariants(real)


def test_failed_profile_write_deletes_the_auth_user_again(real_population, db_trigger):
    # The database refuses the profile of the user numbered 1 (a real error, raised by PostgreSQL).
    db_trigger("IF NEW.email LIKE '%.1@example.com' THEN RAISE EXCEPTION 'injected profile failure'; END IF;")

    report = _run(patients=3)

    assert report.status == "partial"
    assert report.patients_created == 2 and len(report.failures) == 1
    failure = report.failures[0]
    assert failure.email.endswith(".1@example.com")
    assert "Auth user deleted again" in failure.reason
    entry = SyntheticUser.objects.get(email=failure.email)
    assert entry.state == "compensated"
    assert _q("SELECT count(*) FROM auth.users WHERE id = %s", [entry.user_id]) == [(0,)]
    assert synthetic_counts()["auth_users"] == 2
    assert_invariants(real_population)


def test_failing_checkin_copy_leaves_no_partial_history(real_population, supabase_tables_cleanup):
    # A real failure half-way through a patient's COPY: a check constraint violated by day 5.
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE public.check_ins ADD CONSTRAINT synthadmin_test_fault "
            "CHECK (checkin_date <> DATE '2026-06-25') NOT VALID"
        )
    try:
        report = _run(patients=2, adherence=1.0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE public.check_ins DROP CONSTRAINT synthadmin_test_fault")
    assert report.status == "failed"
    assert report.patients_created == 0 and len(report.failures) == 2
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def test_profile_primary_key_clash_is_an_id_collision(real_population, db_trigger):
    db_trigger(
        "IF NEW.email NOT LIKE '%-r2@%' THEN "
        "RAISE unique_violation USING CONSTRAINT = 'profiles_pkey', MESSAGE = 'duplicate key value'; END IF;"
    )
    report = _run(patients=1)
    assert report.status == "succeeded"
    assert report.retries == {"duplicate_id": 1}
    states = sorted(SyntheticUser.objects.values_list("state", flat=True))
    assert states == ["collided", "complete"]
    assert_invariants(real_population)


def test_interrupt_in_the_main_thread_stops_cleanly(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = 2  # a run stops between batches: small ones, to stop part way

    class InterruptingProgress:
        seen = 0

        def run_started(self, run_id):
            pass

        def phase(self, name, total):
            pass

        def advance(self, name, amount=1):
            if name == "auth users":
                self.seen += 1
                if self.seen == 2:
                    raise KeyboardInterrupt  # as if Ctrl-C arrived while the bar was drawn

    report = population_generate(
        request=GenerationRequest(patients=30, checkin_days=10, seed=5, end_date=END, concurrency=2),
        started_by=Starter("os:tester"),
        progress=InterruptingProgress(),
    )
    assert report.status == "aborted"
    assert "interrupted" in report.error
    assert 2 <= report.patients_created < 30
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert_invariants(real_population)


def _q(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()
