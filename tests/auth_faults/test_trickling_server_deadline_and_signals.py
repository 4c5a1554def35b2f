"""An Auth URL that answers one byte every few seconds (httpx's per-read timeouts never fire):
the command ends with one clear line within what the call deadline allows, and Ctrl-C or
SIGTERM ends it within a few seconds with its exit code; nothing is left half-written (the
creates the server did carry out stay ``intent`` and a purge removes them)."""

from __future__ import annotations

import signal
import time

import pytest

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.management import exitcodes
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.retrying import STREAK_LIMIT
from tests.auth_faults.conftest import (
    command_env,
    entry_states,
    error_lines,
    ours_in_auth,
    run_command,
    settled_but_existing,
)
from tests.invariants import assert_invariants, synthetic_counts
from tests.ops.helpers import finish, start_manage, wait_for

DEADLINE = 1.0  # the setting's minimum; the trickle's 3 s between bytes is still past it
ATTEMPTS = 2
STARTUP = 15.0  # Python, Django, the database banner: slack, not part of the bound


def _purge_all(server, real_population) -> None:
    server.faults.clear()
    with SupabaseAuthGateway(url=server.url, key=server.service_role_key) as gateway:
        report = synthetic_users_purge(gateway=gateway)
    assert report.errors == []
    assert ours_in_auth() == 0 and synthetic_counts()["patients"] == 0
    assert_invariants(real_population)


@pytest.mark.exclusive
def test_the_command_ends_with_one_line_within_the_deadline(real_population, auth_server):
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.trickle_next(10_000, interval=3.0)
    env = command_env(
        auth_server,
        SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS=str(DEADLINE),
        SYNTHADMIN_AUTH_RETRY_ATTEMPTS=str(ATTEMPTS),
    )

    result, took = run_command("generate_synthetic", "--patients", "5", "--checkins", "5", env=env)

    # Each user: ATTEMPTS calls of at most DEADLINE seconds (lookup included), one at a time
    # (the controller's window is 1 after a timeout); the run stops after STREAK_LIMIT users.
    assert took < STREAK_LIMIT * ATTEMPTS * DEADLINE + STARTUP, took
    assert result.returncode == exitcodes.STOPPED, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in error_lines(result.stderr) if line.startswith("CommandError:")]
    assert "deadline" in line and "SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS" in line
    # Half-written: nothing. Created by the server, unheard of by the client: intents, for purge
    # (users still waiting for a call when the run stopped are "failed": nothing was sent).
    assert settled_but_existing() == []
    assert entry_states()["intent"] >= 1
    assert synthetic_counts()["patients"] == 0
    _purge_all(auth_server, real_population)


@pytest.mark.exclusive
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_it_within_seconds(real_population, auth_server, signum, code):
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.trickle_next(10_000, interval=3.0)
    process = start_manage(
        "generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env(auth_server)
    )
    try:
        wait_for(lambda: auth_server.call_count("create") >= 1, process, timeout=60)
        time.sleep(0.5)  # in flight, trickling
        sent = time.monotonic()
        process.send_signal(signum)
        _out, err = finish(process, timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert took < 5.0, took
    assert process.returncode == code == exitcodes.signal_exit_code(signum), err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert "purge_synthetic --run" in line and f"stopped by {signal.Signals(signum).name}" in line
    assert settled_but_existing() == []  # the create in flight stays intent...
    unsettled = entry_states()["intent"]
    assert unsettled >= 1
    # ...and the closing line says so, as the ledger does (never "no user was left half-written").
    assert f"{unsettled} user(s) left unsettled" in line and "half-written" not in line
    assert synthetic_counts()["patients"] == 0
    _purge_all(auth_server, real_population)
