"""The README's worker command, run as written, finishes a background run (issue 22)."""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest

from synthadmin.models import SyntheticRun, SyntheticUser
from tests.background.conftest import assert_run_invariants
from tests.dbutil import manage
from tests.deploy.conftest import PRODUCTION, wait_for
from tests.ops.helpers import test_database_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.exclusive  # stops the worker with SIGTERM and checks its clean exit
def test_the_readme_worker_command_finishes_a_background_run(readme_worker, supabase_tables_cleanup):
    env = test_database_env({**PRODUCTION, "SYNTHADMIN_CHUNK_USERS": "10"})
    queued = manage(
        "generate_synthetic",
        "--patients",
        "24",
        "--therapists",
        "2",
        "--checkins",
        "5",
        "--background",
        "--json",
        env=env,
    )
    run_id = uuid.UUID(json.loads(queued.stdout)["run_id"])
    assert SyntheticRun.objects.get(pk=run_id).status == SyntheticRun.Status.QUEUED

    worker = readme_worker(SYNTHADMIN_CHUNK_USERS="10")

    def ended() -> bool:
        assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
        return SyntheticRun.objects.get(pk=run_id).status not in ("queued", "running")

    wait_for(ended, timeout=120, what="the worker to finish the run")
    run = SyntheticRun.objects.get(pk=run_id)
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert SyntheticUser.objects.filter(run=run, state="complete").count() == 26
    assert_run_invariants(run_id)
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
