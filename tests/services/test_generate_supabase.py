"""population_generate through the real supabase client against the Auth test server (real HTTP)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import uuid

import pytest
from django.db import connection

from synthadmin.auth import get_gateway
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import ConfigurationError
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import generation, user_creation
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.reports import Credential
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows

END = dt.date(2026, 6, 30)


def _run(gateway, **kwargs):
    request = GenerationRequest(
        **{"seed": 41, "end_date": END, "checkin_days": 10, "concurrency": 1, **kwargs}
    )
    return population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)


def _q(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def test_creates_users_through_the_admin_api_with_our_own_ids(real_population, auth_server, supabase_gateway):
    report = _run(supabase_gateway, patients=4, therapists=1, concurrency=4)

    assert report.status == "succeeded" and report.auth_backend == "supabase"
    creates = auth_server.requests_for("create")
    assert len(creates) == 5
    profile_ids = {str(u) for (u,) in _q("SELECT id FROM public.profiles WHERE is_test_patient")}
    assert {r.json["id"] for r in creates} == profile_ids  # the id we chose is the profile's id
    for request in creates:
        body = request.json
        assert body["email_confirm"] is True
        assert body["user_metadata"]["name"]
        assert body["app_metadata"]["synthadmin"]["run_id"] == str(report.run_id)
        assert body["email"].endswith("@example.com")
        assert "password" not in body  # no credentials asked for: GoTrue picks one nobody knows
        assert request.headers["authorization"] == f"Bearer {auth_server.service_role_key}"
    assert synthetic_counts()["auth_users"] == 5
    assert_invariants(real_population)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_failures_are_retried(real_population, auth_server, supabase_gateway, status, caplog):
    auth_server.faults.fail_next(2, status=status)
    with caplog.at_level(logging.WARNING, logger="synthadmin"):
        report = _run(supabase_gateway, patients=2)
    assert report.status == "succeeded"
    assert report.retries == {"transient": 2}
    assert "Retrying" in caplog.text  # logged before each sleep
    assert synthetic_counts()["patients"] == 2
    assert_invariants(real_population)


def test_a_500_with_no_user_at_the_id_is_a_database_refusal_not_retried(
    real_population, auth_server, supabase_gateway
):
    # 500 and, looked up, no user at the id: a trigger or constraint on auth.users refused the
    # row. Retrying gets the same answer, so it is not retried as an outage (issue 9).
    auth_server.faults.fail_next(5, status=500, message="Database error creating new user")
    report = _run(supabase_gateway, patients=1)
    assert report.status == "failed" and "auth.users" in report.error and "trigger" in report.error
    assert auth_server.call_count("create") == 1
    assert synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)


def test_a_timeout_is_retried(real_population, auth_server, supabase_gateway):
    auth_server.faults.timeout_next(1, seconds=1.0)
    report = _run(supabase_gateway, patients=1)
    assert report.status == "succeeded" and report.retries == {"transient": 1}
    assert_invariants(real_population)


@pytest.mark.parametrize("status", [None, 500, 502])
def test_a_create_that_succeeded_unheard_is_recognised_not_duplicated(
    real_population, auth_server, supabase_gateway, status
):
    # The server stores the user but the client hears an error (or nothing): the retry meets
    # its own user (422 email_exists, or 500 on the id) and takes it, instead of failing or
    # creating a second one.
    auth_server.faults.crash_after_create_next(1, status=status)
    report = _run(supabase_gateway, patients=2)
    assert report.status == "succeeded"
    # Every lost answer is settled at once by looking the id up: no second create.
    assert auth_server.call_count("create") == 2
    assert report.retries == {}
    assert synthetic_counts()["auth_users"] == 2
    assert SyntheticUser.objects.filter(state="complete").count() == 2
    assert_invariants(real_population)


def test_duplicate_email_gets_a_fresh_email(real_population, auth_server, supabase_gateway):
    auth_server.faults.duplicate_email_next(1)
    report = _run(supabase_gateway, patients=2)
    assert report.status == "succeeded" and report.retries == {"duplicate_email": 1}
    creates = auth_server.requests_for("create")
    (refused,) = [r.json["email"] for r in creates if r.status == 422]
    assert refused.replace("@", "-r2@") in [r.json["email"] for r in creates if r.status == 200]
    assert_invariants(real_population)


def test_duplicate_id_is_detected_by_lookup_and_gets_a_fresh_uuid(
    real_population, auth_server, supabase_gateway, monkeypatch
):
    taken = uuid.uuid4()
    auth_server.faults.occupy_id(taken)  # a foreign user already has this id
    real = snapshot_real_rows()
    foreign = _q(
        "SELECT email, encrypted_password, raw_app_meta_data::text FROM auth.users WHERE id = %s", [taken]
    )
    ids = itertools.chain([taken], iter(uuid.uuid4, None))
    monkeypatch.setattr(user_creation, "new_user_id", lambda: next(ids))

    report = _run(supabase_gateway, patients=1)

    assert report.status == "succeeded" and report.retries == {"duplicate_id": 1}
    assert (
        _q("SELECT email, encrypted_password, raw_app_meta_data::text FROM auth.users WHERE id = %s", [taken])
        == foreign
    )
    assert auth_server.call_count("get") >= 1  # the 500 was explained by looking the id up
    assert_invariants(real)


@pytest.mark.parametrize(
    ("status", "code"), [(401, "no_authorization"), (403, "bad_jwt"), (403, "not_admin"), (401, None)]
)
def test_a_refused_key_stops_the_whole_run_at_once(
    real_population, auth_server, supabase_gateway, status, code, caplog
):
    auth_server.faults.grace(1)  # the preflight passes: the key is refused part way (rotated)
    auth_server.faults.reject_all(status, code=code)
    with caplog.at_level(logging.DEBUG):
        report = _run(supabase_gateway, patients=20, therapists=2, concurrency=2)
    assert report.status == "failed"
    assert "service-role key" in report.error and str(status) in report.error
    assert auth_server.url in report.error  # the line names the URL as well as the variable
    assert auth_server.call_count("create") <= 2  # not repeated for every user
    # Each refused create is a failed user, inline as in the ledger (a background run's count).
    refused = SyntheticUser.objects.filter(state="failed", never_sent=False)
    assert report.patients_created == 0 and 1 <= report.users_failed == refused.count() <= 2
    assert SyntheticRun.objects.get(pk=report.run_id).users_failed == report.users_failed
    key = auth_server.service_role_key
    assert key not in report.error and key not in caplog.text and key not in str(report.as_dict())
    assert synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)


def test_the_anon_key_is_refused_and_never_shown(real_population, auth_server):
    gateway = SupabaseAuthGateway(url=auth_server.url, key=auth_server.anon_key)
    try:
        with pytest.raises(ConfigurationError, match="not_admin") as refused:
            _run(gateway, patients=3)
    finally:
        gateway.close()
    assert auth_server.anon_key not in str(refused.value) and "anon key" in str(refused.value)
    assert not SyntheticRun.objects.exists() and not SyntheticUser.objects.exists()
    assert auth_server.call_count("create") == 0
    assert_invariants(real_population)


def test_failed_database_write_deletes_the_auth_user_through_the_api(
    real_population, auth_server, supabase_gateway
):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION public.synthadmin_test_fault() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.is_test_patient IS TRUE AND NEW.email LIKE '%.0@example.com' "
            "THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_fault BEFORE INSERT OR UPDATE ON public.profiles "
            "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_fault()"
        )
    try:
        report = _run(supabase_gateway, patients=2)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER synthadmin_test_fault ON public.profiles")
            cursor.execute("DROP FUNCTION public.synthadmin_test_fault()")
    assert report.status == "partial" and report.patients_created == 1
    assert auth_server.call_count("delete") == 1
    assert synthetic_counts()["auth_users"] == 1
    assert_invariants(real_population)


def test_an_unreachable_supabase_is_refused_before_anything_is_written(real_population, fast_retries):
    with SupabaseAuthGateway(url="http://127.0.0.1:9", key="k", timeout=0.2) as gateway:
        with pytest.raises(ConfigurationError, match=r"cannot reach Supabase Auth at http://127.0.0.1:9 "):
            _run(gateway, patients=40, concurrency=2)
    assert not SyntheticRun.objects.exists() and not SyntheticUser.objects.exists()
    assert_invariants(real_population)


def test_auth_lost_part_way_fails_the_run_with_a_clear_reason(real_population, fast_retries, monkeypatch):
    # Auth answered the preflight, then went away: the run's own diagnosis, as before.
    monkeypatch.setattr(generation, "auth_preflight", lambda **_: None)
    gateway = SupabaseAuthGateway(url="http://127.0.0.1:9", key="k", timeout=0.2)
    report = _run(gateway, patients=40, concurrency=2)
    assert report.status == "failed"
    assert "unavailable" in report.error.lower() and "SUPABASE_URL" in report.error
    # It stops after a few users rather than waiting out the retries of all 40.
    assert 3 <= report.users_failed <= 3 + 2 * 2  # plus at most what the workers had in flight
    assert SyntheticRun.objects.get(pk=report.run_id).error_summary == report.error
    assert synthetic_counts()["auth_users"] == 0
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert_invariants(real_population)


def test_purge_deletes_through_the_api(real_population, auth_server, supabase_gateway):
    report = _run(supabase_gateway, patients=3, therapists=1)
    purge = synthetic_users_purge(run=report.run_id, gateway=supabase_gateway)
    assert purge.users_deleted == 4
    assert auth_server.call_count("delete") == 4
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def test_supabase_backend_without_key_is_a_configuration_error(settings, db):
    settings.SUPABASE_URL = "https://example.supabase.co"
    settings.SUPABASE_SERVICE_ROLE_KEY = ""
    settings.SYNTHADMIN_AUTH_BACKEND = "supabase"
    with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY"):
        get_gateway()
    with pytest.raises(ConfigurationError):
        population_generate(request=GenerationRequest(patients=1), started_by=Starter("os:tester"))
    assert SyntheticRun.objects.count() == 0


def test_gateway_repr_hides_the_key(auth_server):
    gateway = SupabaseAuthGateway(url=auth_server.url, key=auth_server.service_role_key)
    assert auth_server.service_role_key not in repr(gateway)
    gateway.close()


def test_credentials_sink_sends_passwords_that_log_in(real_population, auth_server, supabase_gateway):
    import bcrypt

    logins: list[Credential] = []
    report = population_generate(
        request=GenerationRequest(patients=2, checkin_days=3, seed=2, end_date=END),
        started_by=Starter("os:tester"),
        gateway=supabase_gateway,
        credentials=logins.append,
    )
    assert report.status == "succeeded" and len(logins) == 2
    sent = {r.json["email"]: r.json["password"] for r in auth_server.requests_for("create")}
    for cred in logins:
        assert sent[cred.email] == cred.password
        (hashed,) = _q("SELECT encrypted_password FROM auth.users WHERE id = %s", [cred.user_id])[0]
        assert bcrypt.checkpw(cred.password.encode(), hashed.encode())


def test_purge_finishes_a_run_that_died_after_the_auth_call(real_population, auth_server, supabase_gateway):
    from synthadmin.auth import NewAuthUser
    from synthadmin.auth.base import APP_METADATA_KEY

    # The process died between the Auth call and the database write: an intent, an Auth user,
    # no profile. Nothing else knows about this user.
    run = SyntheticRun.objects.create(started_by="os:tester", seed=1, auth_backend="supabase")
    intent = SyntheticUser.objects.create(
        run=run, user_id=uuid.uuid4(), email="died.x.0@example.com", role="patient"
    )
    supabase_gateway.create_user(
        NewAuthUser(
            id=intent.user_id,
            email=intent.email,
            user_metadata={},
            app_metadata={APP_METADATA_KEY: {"synthetic": True, "run_id": str(run.id), "intent": intent.pk}},
        )
    )
    assert _q("SELECT count(*) FROM auth.users WHERE id = %s", [intent.user_id]) == [(1,)]

    report = synthetic_users_purge(run=run.id, gateway=supabase_gateway)

    assert report.users_deleted == 1
    assert auth_server.call_count("get") >= 1 and auth_server.call_count("delete") == 1
    assert _q("SELECT count(*) FROM auth.users WHERE id = %s", [intent.user_id]) == [(0,)]
    assert SyntheticUser.objects.get(pk=intent.pk).state == "purged"
    assert_invariants(real_population)


def test_auth_calls_never_exceed_the_concurrency(real_population, auth_server, supabase_gateway):
    import threading

    class Counting:
        """The real gateway, counting how many of its calls overlap."""

        name = "supabase"

        def __init__(self, inner):
            self.inner, self.lock, self.now, self.peak = inner, threading.Lock(), 0, 0

        def _count(self, call, *args):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return call(*args)
            finally:
                with self.lock:
                    self.now -= 1

        def create_user(self, user):
            return self._count(self.inner.create_user, user)

        def get_user(self, user_id):
            return self._count(self.inner.get_user, user_id)

        def delete_user(self, user_id, *, cancellable=True):
            return self._count(functools.partial(self.inner.delete_user, cancellable=cancellable), user_id)

        def close(self):
            self.inner.close()

    auth_server.faults.latency(0.03)  # long enough for calls to overlap when they can
    counting = Counting(supabase_gateway)
    report = _run(counting, patients=24, concurrency=3)
    assert report.status == "succeeded"
    assert counting.peak == 3  # the slots were used, and never more than asked
