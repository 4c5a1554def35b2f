"""Through row level security, as the app sees it (``authenticated`` with the therapist's JWT
claims): a synthetic therapist sees exactly their synthetic patients and those patients' check-ins."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import therapist_links
from tests.shapes import shape_install


@pytest.fixture(params=["live", "early"])
def linked_shape(request, transactional_db):
    shape_install(request.param)
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN CREATE ROLE authenticated NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        cursor.execute("GRANT USAGE ON SCHEMA public, auth TO authenticated")
        cursor.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO authenticated")
        cursor.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO authenticated")
    yield request.param
    shape_install("baseline")


def _as_user(user_id, query: str) -> set:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE authenticated")
        cursor.execute(
            "SELECT set_config('request.jwt.claims', %s, true)",
            [json.dumps({"sub": str(user_id), "role": "authenticated"})],
        )
        cursor.execute(query)
        rows = {row[0] for row in cursor.fetchall()}
        cursor.execute("RESET ROLE")
    return rows


def test_a_synthetic_therapist_sees_exactly_their_synthetic_patients(linked_shape):
    population_generate(
        request=GenerationRequest(
            patients=5, therapists=2, checkin_days=4, seed=3, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:tester"),
    )
    links = therapist_links()
    for therapist in Profile.objects.synthetic().filter(role="therapist"):
        mine = {patient for patient, t in links.items() if t == therapist.id}
        assert len(mine) in (2, 3)
        assert _as_user(therapist.id, "SELECT id FROM public.profiles") == mine | {therapist.id}
        assert _as_user(therapist.id, "SELECT DISTINCT user_id FROM public.check_ins") == mine
