"""On the local backend a batch's users are deleted in one statement. When the database refuses
it — a table referencing ``auth.users`` without cascade appeared after purge's catalog check,
with a row for one user of the batch — the batch is rolled back and its users deleted one by
one: that user is ``blocked`` (named, its ledger entry still ``complete``), every other user of
the batch and of the next batches is deleted, and the next purge, once the row is gone, finishes."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from synthadmin.models import SyntheticUser
from synthadmin.services import purge
from synthadmin.services.cascade import deletion_holds
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.auth.conftest import test_database_conninfo
from tests.invariants import assert_invariants, synthetic_counts
from tests.support.gotrue import block_delete, unblock_deletes

PATIENTS = 7


@pytest.fixture
def fk_appears_after_the_catalog_check(monkeypatch, supabase_tables_cleanup):
    """Once purge has computed its holds (nothing held back), another session adds a table
    referencing ``auth.users`` without cascade, with a row for the second user of the first batch."""
    real_holds = deletion_holds  # what purge calls (it imports it from cascade)
    blocked: list = []

    def holds_then_block(target, user_ids):
        found = real_holds(target, user_ids)
        if not blocked:  # the first purge only
            blocked.append(list(user_ids)[1])
            with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
                block_delete(cursor, blocked[0])
        return found

    monkeypatch.setattr(purge, "deletion_holds", holds_then_block)
    yield blocked
    with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
        unblock_deletes(cursor)


def test_a_refused_batch_is_deleted_user_by_user_and_only_the_culprit_stays(
    real_population, settings, fk_appears_after_the_catalog_check
):
    settings.SYNTHADMIN_BATCH_USERS = 3
    request = GenerationRequest(patients=PATIENTS, checkin_days=3, seed=2, end_date=dt.date(2026, 6, 30))
    run = population_generate(request=request, started_by=Starter("os:tester"))

    report = synthetic_users_purge(run=run.run_id)

    (blocked_id,) = fk_appears_after_the_catalog_check
    entry = SyntheticUser.objects.get(user_id=blocked_id)
    assert report.users_deleted == PATIENTS - 1 and report.errors == []
    assert len(report.blocked) == 1 and report.blocked[0].startswith(f"{entry.email}: ")
    assert "foreign key" in report.blocked[0]
    assert entry.state == "complete"
    assert SyntheticUser.objects.filter(run_id=run.run_id, state="purged").count() == PATIENTS - 1
    assert synthetic_counts()["auth_users"] == 1

    with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
        unblock_deletes(cursor)  # the test's own table goes before the real rows are compared
    assert_invariants(real_population)
    again = synthetic_users_purge(run=run.run_id)
    assert again.users_deleted == 1 and again.blocked == []
    assert synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)
