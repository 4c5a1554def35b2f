"""The same seed makes the same population whether its users are written one per batch or a
hundred per batch: the same users (role, username, e-mail once the run's tag is set aside,
therapist), the same check-ins byte for byte, the same ground truth and the same counts — on the
local backend, and through Supabase Auth, whose batches overlap on one pool of calls."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from synthadmin.models import SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants

END = dt.date(2026, 6, 30)


def _query(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def _population(run_id) -> dict[str, list]:
    """Everything a run wrote that the seed decides, with its run tag taken out of the e-mails."""
    tag = SyntheticRun.objects.get(pk=run_id).tag
    entries = "JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id = p.id AND s.state = 'complete' AND s.run_id = %s"
    users = _query(
        f"SELECT s.job_index, p.role, p.username, p.email, p.source, t.email FROM public.profiles p {entries} "
        "LEFT JOIN public.therapist_patients l ON l.patient_id = p.id "
        "LEFT JOIN public.profiles t ON t.id = l.therapist_id ORDER BY s.job_index",
        [run_id],
    )
    checkins = _query(
        "SELECT s.job_index, c.checkin_date, c.sleep_data::text, c.mood_data::text, c.symptoms_data::text, "
        "c.risk_routine_data::text, c.appetite_impulse_data::text, c.meds_context_data::text "
        f"FROM public.check_ins c JOIN public.profiles p ON p.id = c.user_id {entries} "
        "ORDER BY s.job_index, c.checkin_date",
        [run_id],
    )
    truths = _query(
        "SELECT job_index, checkins, ground_truth::text FROM synthadmin.synthadmin_syntheticuser "
        "WHERE run_id = %s AND state = 'complete' ORDER BY job_index",
        [run_id],
    )
    untagged = [tuple(str(v).replace(tag, "TAG") if isinstance(v, str) else v for v in row) for row in users]
    return {"users": untagged, "checkins": checkins, "truths": truths}


def _generate(settings, batch_users: int, gateway=None):
    settings.SYNTHADMIN_BATCH_USERS = batch_users
    request = GenerationRequest(
        patients=12, therapists=3, checkin_days=45, seed=97, end_date=END, concurrency=2
    )
    report = population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)
    assert report.status == "succeeded", report.error
    return report


def test_one_user_per_batch_and_a_hundred_per_batch_make_the_same_population(real_population, settings):
    alone = _generate(settings, 1)
    batched = _generate(settings, 100)

    first, second = _population(alone.run_id), _population(batched.run_id)
    assert len(first["users"]) == 15 and len(first["checkins"]) == alone.checkins_created
    assert all(row[5] is not None for row in first["users"] if row[1] == "patient")  # linked
    assert first == second
    counts = (alone.patients_created, alone.therapists_created, alone.checkins_created)
    assert counts == (batched.patients_created, batched.therapists_created, batched.checkins_created)
    assert alone.patients_by_pattern == batched.patients_by_pattern
    assert_invariants(real_population)


def test_through_supabase_auth_batches_of_one_five_and_a_hundred_make_the_same_population(
    real_population, settings, auth_server, supabase_gateway
):
    reports = [_generate(settings, size, supabase_gateway) for size in (1, 5, 100)]

    populations = [_population(report.run_id) for report in reports]
    assert len(populations[0]["users"]) == 15
    assert all(row[5] is not None for row in populations[0]["users"] if row[1] == "patient")
    assert populations[0] == populations[1] == populations[2]
    counts = {(r.patients_created, r.therapists_created, r.checkins_created) for r in reports}
    assert len(counts) == 1 and auth_server.call_count("create") == 45
    assert_invariants(real_population)
