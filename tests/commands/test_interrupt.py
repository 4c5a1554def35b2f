"""Ctrl-C during ``generate_synthetic``: a clean stop, exit 130, no orphans, purge finishes it."""

from __future__ import annotations

import signal
import time

import pytest

from synthadmin.models import SyntheticRun, SyntheticUser
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import start_manage, test_database_env, wait_for


@pytest.mark.exclusive
def test_sigint_stops_cleanly_with_exit_130(real_population):
    process = start_manage(
        "generate_synthetic",
        "--patients",
        "400",
        "--checkins",
        "365",
        "--concurrency",
        "2",
        # A run stops between batches (a started batch is finished): small ones, to stop part way.
        env=test_database_env({"SYNTHADMIN_BATCH_USERS": "10"}),
    )
    try:
        deadline = time.monotonic() + 60
        while SyntheticUser.objects.filter(state="complete").count() < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "stopped by SIGINT: no user was left half-written" in err
    run = SyntheticRun.objects.get()
    assert run.status == "aborted"
    assert f"purge_synthetic --run {run.id}" in err
    made = synthetic_counts()["patients"]
    assert 3 <= made < 400
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert_invariants(real_population)


@pytest.mark.exclusive
def test_a_hangup_is_ignored_under_nohup(real_population):
    """Started with SIGHUP ignored (``nohup``), a closed terminal does not stop the run."""
    process = start_manage(
        "generate_synthetic",
        "--patients",
        "30",
        "--checkins",
        "30",
        env=test_database_env(),
        ignored=(signal.SIGHUP,),
    )
    try:
        wait_for(lambda: SyntheticUser.objects.filter(state="complete").count() >= 1, process)
        process.send_signal(signal.SIGHUP)
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert SyntheticRun.objects.get().status == "succeeded"
    assert synthetic_counts()["patients"] == 30
    assert_invariants(real_population)
