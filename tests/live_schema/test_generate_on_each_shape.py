"""Generate with therapists on each shape, through both Auth paths: everyone created, flagged,
``source = 'synthetic'`` where the column exists, linked where a link exists, caseloads within one,
real rows byte-identical."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from synthadmin.target import target_read
from tests.invariants import assert_invariants, synthetic_caseloads, synthetic_counts, therapist_links

END = dt.date(2026, 6, 30)


def _rows(query: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


@pytest.mark.parametrize("backend", ["local", "supabase"])
def test_generate_with_therapists(shape, real_rows, backend, request):
    gateway = request.getfixturevalue("supabase_gateway") if backend == "supabase" else None
    report = population_generate(
        request=GenerationRequest(patients=5, therapists=2, checkin_days=10, seed=8, end_date=END),
        started_by=Starter("os:tester"),
        gateway=gateway,
    )
    assert report.status == "succeeded", report.error
    counts = synthetic_counts()
    assert (counts["patients"], counts["therapists"], counts["auth_users"]) == (5, 2, 7)
    assert counts["checkins"] == report.checkins_created > 0

    target = target_read()
    if target.has_source:
        assert _rows("SELECT DISTINCT source FROM public.profiles WHERE is_test_patient") == [("synthetic",)]
    # Every synthetic profile is complete: role, username, e-mail as synthadmin wrote them.
    assert _rows(
        "SELECT count(*) FROM public.profiles p JOIN auth.users u ON u.id = p.id "
        "WHERE p.is_test_patient AND (p.email IS DISTINCT FROM u.email OR p.username IS NULL "
        "OR p.role <> u.raw_user_meta_data ->> 'role')"
    ) == [(0,)]
    if target.has_soft_delete:
        assert _rows(
            "SELECT count(*) FROM public.profiles WHERE is_test_patient AND deleted_at IS NOT NULL"
        ) == [(0,)]
    if target.therapist_link.kind == "none":
        assert therapist_links() == {}
    else:
        assert sorted(synthetic_caseloads().values()) == [2, 3]
        assert len(therapist_links()) == 2 + 5  # the real patients' links and the synthetic ones
    assert_invariants(real_rows)
