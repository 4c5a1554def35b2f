"""kill -9 at each of purge's batch boundaries (``synthadmin.failpoints``), then the same purge
again: nothing of the run is left, and real rows are byte-identical.

A real ``manage.py purge_synthetic`` subprocess, batches of 3 users (8 users: 3 batches), killed
with SIGKILL at: the holds decided and intents settled, before the first delete; inside a
batch (local backend: its ``auth.users`` delete done, its transaction not committed; Supabase
Auth: the batch's Auth users deleted, their ledger entries not marked); after a batch committed.
On the local backend what the kill leaves is consistent at once (a batch is one transaction);
through Supabase Auth an Auth user may be gone with its entry still ``complete`` — the next
purge looks it up and settles it.
"""

from __future__ import annotations

import datetime as dt
import signal

import pytest
from django.conf import settings
from django.db import connection

from synthadmin.auth import AuthGateway
from synthadmin.failpoints import ENV, PURGE_AFTER_BATCH, PURGE_BATCH_AUTH_DELETED, PURGE_BEFORE_DELETES
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import database_url, manage
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows

BATCH = 3
USERS = 8  # 7 patients and their therapist: batches of 3, 3 and 2
NOTHING = {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def _generate(gateway: AuthGateway | None = None):
    request = GenerationRequest(
        patients=7, therapists=1, checkin_days=4, seed=3, end_date=dt.date(2026, 6, 30)
    )
    report = population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)
    assert report.status == "succeeded"
    return report


def _purge_killed_at(failpoint: str, run_id, extra_env: dict[str, str] | None = None) -> None:
    env = {
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "SYNTHADMIN_BATCH_USERS": str(BATCH),
        ENV: failpoint,
        **(extra_env or {}),
    }
    result = manage("purge_synthetic", "--run", str(run_id), "--yes", "-v", "0", env=env, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr


def _assert_nothing_left(run_id, real) -> None:
    assert synthetic_counts() == NOTHING
    assert not SyntheticUser.objects.filter(run_id=run_id, state__in=["intent", "complete"]).exists()
    assert SyntheticRun.objects.get(pk=run_id).purged_at is not None
    assert snapshot_real_rows() == real
    assert_invariants(real)


@pytest.mark.parametrize(
    ("failpoint", "left"),
    [(PURGE_BEFORE_DELETES, USERS), (PURGE_BATCH_AUTH_DELETED, USERS), (PURGE_AFTER_BATCH, USERS - BATCH)],
)
def test_local_purge_killed_at_a_batch_boundary_is_finished_by_the_next(real_population, failpoint, left):
    run = _generate()
    assert synthetic_counts()["auth_users"] == USERS

    _purge_killed_at(failpoint, run.run_id)

    # Consistent at once: a batch went whole (its users, their rows and their ledger marks) or not at all.
    assert synthetic_counts()["auth_users"] == left
    assert SyntheticUser.objects.filter(run_id=run.run_id, state="purged").count() == USERS - left
    assert_invariants(real_population)

    again = synthetic_users_purge(run=run.run_id)
    assert (again.users_deleted, again.errors, again.blocked, again.left_alone) == (left, [], [], [])
    _assert_nothing_left(run.run_id, real_population)


def test_supabase_purge_killed_between_the_auth_deletes_and_the_ledger_is_finished_by_the_next(
    real_population, auth_server, supabase_gateway
):
    run = _generate(supabase_gateway)
    env = {"SUPABASE_URL": auth_server.url, "SUPABASE_SERVICE_ROLE_KEY": auth_server.service_role_key}

    _purge_killed_at(PURGE_BATCH_AUTH_DELETED, run.run_id, env)

    gone = USERS - synthetic_counts()["auth_users"]
    assert gone >= BATCH  # a batch's Auth users went...
    assert SyntheticUser.objects.filter(run_id=run.run_id, state="purged").count() == 0  # ...unmarked

    again = synthetic_users_purge(run=run.run_id, gateway=supabase_gateway)
    # Those gone are looked up and settled, the others deleted. A delete the killed process had
    # in flight may still reach the Auth server after the count above — before this purge looks
    # (then it is settled as gone) or while it deletes (then its own delete finds the user gone:
    # settled, counted by neither) — at most one per concurrent Auth call.
    assert again.intents_resolved >= gone
    in_flight = settings.SYNTHADMIN_AUTH_CONCURRENCY
    assert USERS - in_flight <= again.intents_resolved + again.users_deleted <= USERS
    assert again.errors == again.blocked == again.left_alone == []
    _assert_nothing_left(run.run_id, real_population)
