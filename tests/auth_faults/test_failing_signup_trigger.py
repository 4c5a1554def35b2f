"""A signup trigger on ``auth.users`` that raises: Auth answers 500 "Database error creating new
user" to every create. That is a refusal, not an outage: each user fails at once (no backoff),
the run stops after ``STREAK_LIMIT`` users in a row with one line naming a trigger or constraint
on ``auth.users``, and nothing is left in ``auth.users`` — on both Auth backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from synthadmin.management import exitcodes
from synthadmin.services.retrying import STREAK_LIMIT
from tests.auth_faults.conftest import (
    command_env,
    entry_states,
    error_lines,
    generate,
    ours_in_auth,
    q,
    run_command,
)
from tests.invariants import assert_invariants
from tests.support.gotrue import install_failing_signup_trigger, remove_failing_signup_trigger


@pytest.fixture
def failing_trigger(supabase_tables_cleanup) -> Iterator[None]:
    """The failing trigger, installed through Django's connection (for the local backend)."""
    with connection.cursor() as cursor:
        install_failing_signup_trigger(cursor)
    yield
    with connection.cursor() as cursor:
        remove_failing_signup_trigger(cursor)


def _assert_nothing_left() -> None:
    assert ours_in_auth() == 0
    assert q("SELECT count(*) FROM auth.users u WHERE u.email LIKE '%%@example.com'") == [(0,)]
    assert q("SELECT count(*) FROM public.profiles WHERE is_test_patient") == [(0,)]
    # Proven not created: failed, not kept as intents for a purge to chase.
    assert entry_states().get("intent", 0) == 0


def test_supabase_at_most_six_creates_for_five_users_and_one_diagnosis(
    real_population, auth_server, supabase_gateway
):
    with auth_server.failing_signup_trigger() as trigger:
        report = generate(supabase_gateway, patients=5, concurrency=4)

        assert trigger == "synthadmin_test_on_auth_user_created"
        assert auth_server.call_count("create") <= 6
        assert report.status == "failed"
        assert "\n" not in report.error
        assert "trigger or constraint on auth.users" in report.error
        assert f"{STREAK_LIMIT} users in a row" in report.error
        assert report.retries.get("transient", 0) == 0  # not backed off as an outage
        _assert_nothing_left()
        assert_invariants(real_population)


def test_supabase_command_one_line_exit_3(real_population, auth_server):
    with auth_server.failing_signup_trigger():
        result, _ = run_command(
            "generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env(auth_server)
        )

        assert result.returncode == exitcodes.STOPPED, result.stderr
        lines = error_lines(result.stderr)
        assert len(lines) <= 1 + 5  # the diagnosis, and at most one "failed:" line per user tried
        (diagnosis,) = [line for line in lines if line.startswith("CommandError:")]
        assert "trigger or constraint on auth.users" in diagnosis
        assert "SUPABASE_URL is right and reachable" not in result.stderr  # not an outage
        assert "Traceback" not in result.stderr
        assert auth_server.call_count("create") <= 6
        _assert_nothing_left()
        assert_invariants(real_population)


def test_local_backend_same_diagnosis_no_traceback(real_population, failing_trigger):
    report = generate(None, patients=5, concurrency=4)

    assert report.status == "failed" and report.auth_backend == "local"
    assert "trigger or constraint on auth.users" in report.error and "\n" not in report.error
    _assert_nothing_left()
    assert_invariants(real_population)


def test_local_backend_command_one_line_exit_3(real_population, failing_trigger):
    result, _ = run_command("generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env())

    assert result.returncode == exitcodes.STOPPED, result.stderr
    assert "Traceback" not in result.stderr and "IntegrityError" not in result.stderr
    (diagnosis,) = [line for line in error_lines(result.stderr) if line.startswith("CommandError:")]
    assert "trigger or constraint on auth.users" in diagnosis
    _assert_nothing_left()
    assert_invariants(real_population)
