"""``profiles.username`` UNIQUE (Supabase's user-management starter has it): the same seed run
twice completes both times, on each Auth path, with and without a signup trigger; where no
unique index asks for it, usernames stay ``first.last``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from synthadmin.services.chunks import chunk_run, run_enqueue
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from synthadmin.target import target_read
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import insert_real_user, snapshot_real_rows
from tests.shapes import shape_install

END = dt.date(2026, 6, 30)
UNIQUE_USERNAME = "ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE (username)"


@pytest.fixture
def install(transactional_db):
    yield shape_install
    shape_install("baseline")


def _usernames() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT username FROM public.profiles WHERE is_test_patient ORDER BY username")
        return [row[0] for row in cursor.fetchall()]


def _twice(gateway) -> list[tuple[str, str]]:
    """The same seed, twice (every name repeats): both runs' statuses."""
    statuses = []
    for _ in range(2):
        report = population_generate(
            request=GenerationRequest(patients=6, therapists=2, checkin_days=5, seed=21, end_date=END),
            started_by=Starter("os:tester"),
            gateway=gateway,
        )
        statuses.append((report.status, report.error))
    return statuses


@pytest.mark.parametrize("shape", ["live", "early"])
@pytest.mark.parametrize("backend", ["local", "supabase"])
def test_the_same_seed_twice_completes_with_a_unique_username(install, shape, backend, request):
    install(shape, extra_sql=UNIQUE_USERNAME)
    insert_real_user(role="therapist", email="dr.real@example.org")
    real = snapshot_real_rows()
    gateway = request.getfixturevalue("supabase_gateway") if backend == "supabase" else None
    assert target_read().unique_usernames
    assert _twice(gateway) == [("succeeded", ""), ("succeeded", "")]
    counts = synthetic_counts()
    assert (counts["patients"], counts["therapists"], counts["auth_users"]) == (12, 4, 16)
    usernames = _usernames()
    assert len(set(usernames)) == 16  # unique, and the way e-mails are: first.last.<run tag>.<number>
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM public.profiles WHERE is_test_patient "
            "AND split_part(email, '@', 1) <> username"
        )
        assert cursor.fetchone()[0] == 0
    assert_invariants(real)


def test_without_a_unique_index_usernames_stay_first_last(install):
    install("early")
    assert not target_read().unique_usernames
    report = population_generate(
        request=GenerationRequest(patients=3, checkin_days=1, seed=21, end_date=END),
        started_by=Starter("os:tester"),
    )
    assert report.status == "succeeded"
    assert all(name.count(".") == 1 for name in _usernames())  # first.last, as before


@pytest.mark.parametrize(
    "extra_sql",
    [
        "CREATE UNIQUE INDEX profiles_username_lower ON public.profiles (lower(username))",
        "CREATE UNIQUE INDEX profiles_live_username ON public.profiles (username) WHERE deleted_at IS NULL",
        "ALTER TABLE public.profiles ADD CONSTRAINT profiles_role_username UNIQUE (role, username)",
    ],
)
def test_any_unique_index_over_username_makes_usernames_unique(install, extra_sql):
    install("live", extra_sql=extra_sql)
    assert target_read().unique_usernames


def test_background_chunks_make_unique_usernames_too(install, settings):
    """Worker chunks build the population themselves (``jobs.chunk_jobs``): the same rule."""
    install("live", extra_sql=UNIQUE_USERNAME)
    settings.SYNTHADMIN_CHUNK_USERS = 3
    runs = []
    for _ in range(2):
        runs.append(
            run_enqueue(
                request=GenerationRequest(patients=4, therapists=1, checkin_days=2, seed=21, end_date=END),
                started_by=Starter("os:tester"),
            )
        )
        while (ready := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
            ready.claim("in-process")
            chunk_run(*ready.task_result.args)
            ready.set_successful(None)
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.patients_created, run.therapists_created) == ("succeeded", 4, 1)
    assert len(set(_usernames())) == 10
