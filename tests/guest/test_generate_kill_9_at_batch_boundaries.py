"""kill -9 at each of generation's batch boundaries (``synthadmin.failpoints``), then purge of the
run: nothing of it is left, and real rows are byte-identical.

A real ``manage.py generate_synthetic`` subprocess, batches of 3 patients (8 patients: batches
of 3, 3 and 2, side by side), killed with SIGKILL at: a batch's intents committed,
no Auth user made (Supabase Auth only: the local backend writes a batch's intents and its Auth
rows in one transaction); its Auth users made, none of their rows written (``AFTER_AUTH_CREATE``);
its profiles and check-ins written inside its transaction, before the commit; after a batch
committed. On both Auth backends (through Supabase Auth the Auth users of a batch are made one
call each). The next command marks the run interrupted; purge of the run finds the intents (an
Auth user may or may not exist) and the complete users alike, and leaves nothing.
"""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connection

from synthadmin.failpoints import (
    AFTER_AUTH_CREATE,
    ENV,
    GENERATE_AFTER_BATCH,
    GENERATE_BATCH_COPIED,
    GENERATE_BATCH_INTENTS,
)
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.purge import synthetic_users_purge
from tests.dbutil import database_url, manage
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows

NOTHING = {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def _generate_killed_at(failpoint: str, extra_env: dict[str, str] | None = None) -> SyntheticRun:
    env = {
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
        "SYNTHADMIN_BATCH_USERS": "3",
        ENV: failpoint,
        **(extra_env or {}),
    }
    args = ["--patients", "8", "--checkins", "6", "--seed", "5", "-v", "0"]
    result = manage("generate_synthetic", *args, env=env, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    _sessions_ended("synthadmin generate_synthetic")
    return SyntheticRun.objects.get()


def _sessions_ended(name: str, timeout: float = 30.0) -> None:
    """Wait until the database has ended the killed process's sessions: a statement it had sent
    (another batch's COMMIT) is carried out first, as at any server before anyone can purge — the
    database's side of what ``wait_settled`` is for the Auth test server."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND datname = current_database()",
                [name],
            )
            if cursor.fetchone()[0] == 0:
                return
            assert time.monotonic() < deadline, f"the sessions of {name!r} did not end"
            time.sleep(0.05)


BOUNDARIES = [
    # The local backend records a batch's intents in the transaction that writes its Auth rows:
    # there is no "intents committed, no Auth user" boundary to kill at.
    *[("local", point) for point in (AFTER_AUTH_CREATE, GENERATE_BATCH_COPIED, GENERATE_AFTER_BATCH)],
    *[
        ("supabase", point)
        for point in (GENERATE_BATCH_INTENTS, AFTER_AUTH_CREATE, GENERATE_BATCH_COPIED, GENERATE_AFTER_BATCH)
    ],
]


@pytest.mark.parametrize(("backend", "failpoint"), BOUNDARIES)
def test_generate_killed_at_a_batch_boundary_is_purged_to_nothing(
    real_population, failpoint, backend, request
):
    gateway, env, server = None, None, None
    if backend == "supabase":
        server = request.getfixturevalue("auth_server")
        env = {"SUPABASE_URL": server.url, "SUPABASE_SERVICE_ROLE_KEY": server.service_role_key}
    run = _generate_killed_at(failpoint, env)
    if server is not None:
        # What the killed process had sent is carried out (a create of the next batch may be
        # on its way), as it is at Auth before anyone runs a purge.
        assert server.wait_settled(timeout=30)
        gateway = request.getfixturevalue("supabase_gateway")
    assert run.status == "running"  # nobody was left to say otherwise
    entries = SyntheticUser.objects.filter(run=run)
    assert entries.exists()  # the kill came after a batch's intents
    if failpoint == GENERATE_AFTER_BATCH:
        assert entries.filter(state="complete").exists()  # that batch went whole
    else:
        # A batch in its transaction, or before it, wrote none of its users' rows.
        assert not entries.filter(state="complete").exists()

    report = synthetic_users_purge(run=run.id, gateway=gateway)

    assert report.errors == report.blocked == report.left_alone == []
    assert synthetic_counts() == NOTHING
    assert not SyntheticUser.objects.filter(run=run, state__in=["intent", "complete"]).exists()
    run.refresh_from_db()
    assert run.status == "interrupted" and run.purged_at is not None
    assert snapshot_real_rows() == real_population
    assert_invariants(real_population)
