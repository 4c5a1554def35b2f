"""A signal while a command starts (``manage.py`` has its handlers, Django is not yet imported,
no run exists): one line and ``128 + signal``, no traceback, no silent death, nothing written.
A failpoint delivers the signal at that instant (``manage_starting``)."""

from __future__ import annotations

import signal

import pytest

from synthadmin.failpoints import ENV, MANAGE_STARTING
from synthadmin.models import SyntheticRun
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import finish, start_manage, test_database_env


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_starting_is_one_line_and_its_exit_code(real_population, signum):
    env = test_database_env({ENV: f"{MANAGE_STARTING}:{signum.name}"})
    process = start_manage("generate_synthetic", "--patients", "2", env=env)
    out, err = finish(process)

    assert process.returncode == 128 + signum, err
    assert err == f"synthadmin: stopped by {signum.name}\n" and out == ""
    assert not SyntheticRun.objects.exists()
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def test_sigterm_ignored_at_start_stays_ignored(real_population):
    """Under ``nohup`` or as a script's background job: the signal was ignored when the command
    started, and stays so (the command runs on)."""
    env = test_database_env({ENV: f"{MANAGE_STARTING}:SIGTERM"})
    process = start_manage("list_runs", env=env, ignored=(signal.SIGTERM,))
    _out, err = finish(process)
    assert process.returncode == 0, err
