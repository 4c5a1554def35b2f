"""population_generate with the local Auth backend (the in-memory one where a request is refused
before Auth), against the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import Credential
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_caseloads, synthetic_counts, therapist_links

END = dt.date(2026, 6, 30)


def _generate(**kwargs):
    request = GenerationRequest(**{"seed": 11, "end_date": END, **kwargs})
    return population_generate(request=request, started_by=Starter("os:tester", source="command"))


def _query(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def test_generates_therapists_patients_and_histories(real_population):
    report = _generate(patients=7, therapists=3, checkin_days=60)

    assert report.status == "succeeded" and report.failures == []
    counts = synthetic_counts()
    assert counts == {
        "patients": 7,
        "therapists": 3,
        "checkins": report.checkins_created,
        "auth_users": 10,
    }
    assert 0.6 * 7 * 60 < report.checkins_created < 7 * 60  # adherence below 100 %
    run = SyntheticRun.objects.get(pk=report.run_id)
    assert (run.status, run.patients_created, run.therapists_created, run.checkins_created) == (
        "succeeded",
        7,
        3,
        report.checkins_created,
    )
    assert run.started_by == "os:tester" and run.seed == 11 and run.finished_at is not None
    assert run.users.filter(state="complete").count() == 10

    # Caseloads balanced over this run's own therapists; therapists have none.
    assert sorted(synthetic_caseloads().values()) == [2, 2, 3]
    links = therapist_links()
    flags = dict(_query("SELECT id, is_test_patient FROM public.profiles"))
    roles = dict(_query("SELECT id, role FROM public.profiles"))
    assert not any(roles[patient] == "therapist" for patient in links)
    # Real therapists are never assigned: every synthetic patient's therapist is of this run.
    synthetic_patients = [i for i, role in roles.items() if role == "patient" and flags[i] is True]
    assert len(synthetic_patients) == 7
    assert all(flags[links[p]] is True for p in synthetic_patients)
    # Histories end on the end date, lie in the window, one per day at most.
    first, last = _query(
        "SELECT min(checkin_date), max(checkin_date) FROM public.check_ins c JOIN public.profiles p ON p.id=c.user_id WHERE p.is_test_patient"
    )[0]
    assert last <= END and first >= END - dt.timedelta(days=59)
    # Reserved domain only; the auth rows look like GoTrue's.
    emails = [e for (e,) in _query("SELECT email FROM auth.users WHERE raw_app_meta_data ? 'synthadmin'")]
    assert all(e.endswith("@example.com") for e in emails)
    row = _query(
        "SELECT instance_id::text, aud, role, left(encrypted_password, 7), confirmation_token, phone, "
        "email_confirmed_at IS NOT NULL, raw_app_meta_data -> 'synthadmin' ->> 'run_id' FROM auth.users "
        "WHERE raw_app_meta_data ? 'synthadmin' LIMIT 1"
    )[0]
    assert row == (
        "00000000-0000-0000-0000-000000000000",
        "authenticated",
        "authenticated",
        "$2a$04$",
        "",
        None,
        True,
        str(report.run_id),
    )
    assert_invariants(real_population)


def test_same_seed_same_content_new_identities(real_population):
    first = _generate(patients=3, checkin_days=20)
    second = _generate(patients=3, checkin_days=20)
    content = (
        "SELECT p.username, c.checkin_date, c.sleep_data::text, c.mood_data::text, c.symptoms_data::text, "
        "c.risk_routine_data::text, c.appetite_impulse_data::text, c.meds_context_data::text "
        "FROM public.check_ins c JOIN public.profiles p ON p.id = c.user_id "
        "JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id = p.id AND s.state = 'complete' "
        "WHERE s.run_id = %s ORDER BY p.username, c.checkin_date"
    )
    rows_a = _query(content, [first.run_id])
    rows_b = _query(content, [second.run_id])
    assert rows_a and rows_a == rows_b

    def ids(run):
        return {
            u
            for (u,) in _query(
                "SELECT user_id FROM synthadmin.synthadmin_syntheticuser WHERE run_id=%s", [run]
            )
        }

    assert not ids(first.run_id) & ids(second.run_id)
    # Different patients within a run have different histories.
    per_patient = _query(
        "SELECT c.user_id, string_agg(c.mood_data::text, '|' ORDER BY c.checkin_date) FROM public.check_ins c "
        "JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id = c.user_id WHERE s.run_id = %s GROUP BY 1",
        [first.run_id],
    )
    assert len({h for _, h in per_patient}) == 3
    assert_invariants(real_population)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"patients": -1}, "patients"),
        ({"patients": 10_001}, "patients"),
        ({"patients": 0, "therapists": 0}, "patients"),
        ({"checkin_days": 3651}, "checkin_days"),
        ({"pattern": "zigzag"}, "pattern"),
        ({"adherence": 0}, "adherence"),
        ({"adherence": 1.5}, "adherence"),
        ({"locale": "xx_YY"}, "locale"),
        ({"seed": -5}, "seed"),
        ({"end_date": dt.date(2999, 1, 1)}, "end_date"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_bad_requests_raise_and_write_nothing(real_population, locmem_auth, kwargs, field):
    with pytest.raises(InvalidRequestError) as info:
        _generate(**kwargs)
    assert info.value.field == field
    assert SyntheticRun.objects.count() == 0
    assert synthetic_counts()["auth_users"] == 0
    assert locmem_auth == {}  # nothing asked of Auth either
    assert_invariants(real_population)


def test_unknown_pattern_message_lists_valid_ones(db):
    with pytest.raises(
        InvalidRequestError, match="valid patterns: stable, cycling, rapid_cycling, depressive, manic, random"
    ):
        _generate(pattern="zigzag")


def test_stop_event_gives_a_clean_aborted_run(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = 2  # a run stops between batches: small ones, to stop part way
    stop = threading.Event()
    created = []

    def credentials(cred):
        created.append(cred)
        if len(created) == 3:
            stop.set()

    report = population_generate(
        request=GenerationRequest(patients=40, checkin_days=30, seed=3, end_date=END, concurrency=2),
        started_by=Starter("os:tester"),
        credentials=credentials,
        stop=stop,
    )
    assert report.status == "aborted"
    made = report.patients_created
    assert 3 <= made < 40
    assert synthetic_counts()["patients"] == made
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert_invariants(real_population)


def test_credentials_sink_gets_each_login_and_nothing_is_stored(real_population):
    logins: list[Credential] = []
    report = population_generate(
        request=GenerationRequest(patients=2, therapists=1, checkin_days=5, seed=4, end_date=END),
        started_by=Starter("os:tester"),
        credentials=logins.append,
    )
    assert report.status == "succeeded"
    assert sorted(c.role for c in logins) == ["patient", "patient", "therapist"]
    assert all(len(c.password) >= 43 for c in logins)
    import bcrypt

    for cred in logins:
        (hashed,) = _query("SELECT encrypted_password FROM auth.users WHERE id = %s", [cred.user_id])[0]
        assert bcrypt.checkpw(cred.password.encode(), hashed.encode())
        stored = _query(
            "SELECT count(*) FROM synthadmin.synthadmin_syntheticrun WHERE parameters::text LIKE %s",
            [f"%{cred.password}%"],
        )
        assert stored == [(0,)]


def test_without_credentials_users_get_a_password_nobody_knows(real_population):
    _generate(patients=3, checkin_days=2)
    hashes = [
        h
        for (h,) in _query("SELECT encrypted_password FROM auth.users WHERE raw_app_meta_data ? 'synthadmin'")
    ]
    # Never empty (GoTrue never leaves it empty); one random secret per run, hashed once.
    assert len(hashes) == 3 and all(h.startswith("$2a$") and len(h) == 60 for h in hashes)
    assert len(set(hashes)) == 1


def test_local_gateway_hashes_like_gotrue_at_its_default_cost(db):
    import bcrypt

    from synthadmin.auth.local import LocalAuthGateway

    gateway = LocalAuthGateway(rounds=10)
    hashed = gateway._hash_of_unknown_password()
    assert hashed.startswith("$2a$10$") and len(hashed) == 60
    assert gateway._hash_of_unknown_password() == hashed
    assert not bcrypt.checkpw(b"", hashed.encode())


def test_without_therapists_in_the_run_patients_get_none(real_population):
    _generate(patients=3, checkin_days=2)  # a real therapist exists, and is never picked
    synthetic = {i for (i,) in _query("SELECT id FROM public.profiles WHERE is_test_patient")}
    assert not synthetic & set(therapist_links())
    assert_invariants(real_population)
