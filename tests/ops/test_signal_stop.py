"""SIGTERM and SIGHUP stop a run exactly like Ctrl-C: in-flight users finished or compensated,
the run ``aborted``, exit 143 / 129 with the purge hint — and zero orphans right after the run."""

from __future__ import annotations

import signal

import pytest
from django.db import connection

from synthadmin.management import exitcodes
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.auth.conftest import test_database_conninfo
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import finish, start_manage, test_database_env, wait_for
from tests.support.gotrue import GoTrueDouble


def _complete() -> int:
    return SyntheticUser.objects.filter(state="complete").count()


@pytest.mark.exclusive
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_mid_run_stops_cleanly(real_population, signum, code):
    assert exitcodes.signal_exit_code(signum) == code
    process = start_manage(
        "generate_synthetic",
        "--patients",
        "400",
        "--checkins",
        "365",
        "--concurrency",
        "2",
        # Batches of 10: a started batch is finished as a whole, so the stop lands between small ones.
        env=test_database_env({"SYNTHADMIN_BATCH_USERS": "10"}),
    )
    try:
        wait_for(lambda: _complete() >= 3, process)
        process.send_signal(signum)
    finally:
        _out, err = finish(process)
    assert process.returncode == code, err
    name = signal.Signals(signum).name
    lines = [line for line in err.splitlines() if f"stopped by {name}" in line]
    assert len(lines) == 1, err
    run = SyntheticRun.objects.get()
    assert f"purge_synthetic --run {run.id}" in lines[0]
    assert "Traceback" not in err
    # By SQL, right after the run (not after a purge): aborted, no orphan, nothing in flight.
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM synthadmin.synthadmin_syntheticrun WHERE id = %s", [run.id])
        assert cursor.fetchone()[0] == "aborted"
        cursor.execute(
            "SELECT count(*) FROM auth.users u LEFT JOIN public.profiles p ON p.id = u.id "
            "WHERE u.raw_app_meta_data ? 'synthadmin' AND p.id IS NULL"
        )
        assert cursor.fetchone()[0] == 0
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert 3 <= synthetic_counts()["patients"] < 400
    assert_invariants(real_population)


@pytest.mark.exclusive
def test_sigterm_during_purge_stops_cleanly_and_a_second_purge_finishes(real_population):
    # 40 users made locally, then deleted through a slow Auth server: SIGTERM lands mid-purge.
    population_generate(request=GenerationRequest(patients=40, checkin_days=5), started_by=Starter("os:test"))
    with GoTrueDouble(conninfo=test_database_conninfo()) as auth:
        auth.faults.latency(0.3)
        env = test_database_env(
            {
                "SUPABASE_URL": auth.url,
                "SUPABASE_SERVICE_ROLE_KEY": auth.service_role_key,
                "SYNTHADMIN_AUTH_CONCURRENCY": "2",
            }
        )
        process = start_manage("purge_synthetic", "--all", "--yes", env=env)
        try:
            wait_for(lambda: synthetic_counts()["patients"] <= 36, process)
            process.send_signal(signal.SIGTERM)
        finally:
            _out, err = finish(process)
        assert process.returncode == 143, err
        assert "stopped by SIGTERM" in err and "Traceback" not in err
        left = synthetic_counts()
        assert 0 < left["patients"] < 40
        assert left["auth_users"] == left["patients"]  # nothing half-deleted
        assert_invariants(real_population)
        auth.faults.clear()
        process = start_manage("purge_synthetic", "--all", "--yes", env=env)
        _out, err = finish(process)
        assert process.returncode == 0, err
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)
