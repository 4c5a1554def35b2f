"""Ctrl-C during ``generate_synthetic``: a clean stop, exit 130, no orphans, purge finishes it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.db import connection

from synthadmin.models import SyntheticRun, SyntheticUser
from tests.dbutil import ROOT, database_url, manage_env
from tests.invariants import assert_invariants, synthetic_counts


def test_sigint_stops_cleanly_with_exit_130(real_population):
    env = manage_env(
        {"DATABASE_URL": database_url(connection.settings_dict["NAME"]), "PYTHONUNBUFFERED": "1"}
    )
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "generate_synthetic",
            "--patients",
            "400",
            "--checkins",
            "365",
            "--concurrency",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
    assert "interrupted: no user was left half-written" in err
    run = SyntheticRun.objects.get()
    assert run.status == "aborted"
    assert f"purge_synthetic --run {run.id}" in err
    made = synthetic_counts()["patients"]
    assert 3 <= made < 400
    assert SyntheticUser.objects.filter(state="intent").count() == 0
    assert_invariants(real_population)
