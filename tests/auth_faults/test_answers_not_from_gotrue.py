"""Answers that are not Supabase Auth's JSON, and a version header lost on the way: a proxy's
401 HTML page stops the run at once (one create call, one line); a 200 with an HTML body is a
one-line error; without ``X-Supabase-Api-Version`` on the answers (or on the request) every
case is classified as with it — collisions still recognised, a refusing trigger still named."""

from __future__ import annotations

import pytest

from synthadmin.management import exitcodes
from tests.auth_faults.conftest import (
    command_env,
    entry_states,
    error_lines,
    generate,
    ours_in_auth,
    run_command,
    settled_but_existing,
)
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows


def test_proxy_401_html_stops_the_run_at_once(real_population, auth_server, supabase_gateway):
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.reject_all(401, html=True)

    report = generate(supabase_gateway, patients=5, concurrency=4)

    assert auth_server.call_count("create") == 1
    assert report.status == "failed" and "\n" not in report.error
    assert "401" in report.stopped_by and "SUPABASE_SERVICE_ROLE_KEY" in report.stopped_by
    assert "something other than Supabase Auth" in report.stopped_by
    assert ours_in_auth() == 0 and entry_states().get("intent", 0) == 0
    assert_invariants(real_population)


def test_proxy_401_html_command_one_line(real_population, auth_server):
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.reject_all(401, html=True)

    result, _ = run_command(
        "generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env(auth_server)
    )

    assert result.returncode == exitcodes.STOPPED, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("CommandError:")
    assert "401" in line and "Traceback" not in result.stderr and "<html" not in result.stderr.lower()
    assert auth_server.call_count("create") == 1


def test_proxy_401_html_from_the_start_is_refused_before_writing(real_population, auth_server):
    auth_server.faults.reject_all(401, html=True)

    result, _ = run_command(
        "generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env(auth_server)
    )

    assert result.returncode == exitcodes.INVALID, result.stderr
    (line,) = error_lines(result.stderr)
    assert "401" in line and "something other than Supabase Auth" in line and auth_server.url in line
    assert "<html" not in result.stderr.lower() and auth_server.call_count("create") == 0
    assert entry_states() == {} and ours_in_auth() == 0


def test_200_with_an_html_body_is_one_line(real_population, auth_server, supabase_gateway):
    auth_server.faults.fail_next(1, status=200, html=True)

    report = generate(supabase_gateway, patients=3, concurrency=1)

    assert report.status == "failed" and "\n" not in report.error
    assert "not Supabase Auth's" in report.stopped_by and "SUPABASE_URL" in report.stopped_by
    assert "ValidationError" not in report.error and "pydantic" not in report.error
    assert auth_server.call_count("create") == 1
    assert settled_but_existing() == []
    assert synthetic_counts()["patients"] == 0


def test_200_with_an_html_body_command_one_line(real_population, auth_server):
    auth_server.faults.fail_next(1, status=200, html=True)

    result, _ = run_command(
        "generate_synthetic", "--patients", "3", "--checkins", "5", env=command_env(auth_server)
    )

    assert result.returncode == exitcodes.STOPPED, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("CommandError:") and "not Supabase Auth's" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("lost", [None, "response", "in"])
def test_the_version_header_does_not_change_the_classification(
    real_population, auth_server, supabase_gateway, fixed_ids, lost
):
    if lost is not None:
        auth_server.faults.strip_version_header(lost)
    auth_server.occupy_id(fixed_ids[0])  # the 1st user's id is someone else's: duplicate id
    auth_server.faults.fail_next(  # the 2nd user's first e-mail is taken: duplicate e-mail
        1,
        status=422,
        code="email_exists",
        message="A user with this email address has already been registered",
        user_id=fixed_ids[2],
    )
    real_rows = snapshot_real_rows()  # the occupant is a real user now, and must stay as it is

    report = generate(supabase_gateway, patients=3, concurrency=1)

    assert report.status == "succeeded", report.error
    assert report.retries == {"duplicate_id": 1, "duplicate_email": 1}
    assert synthetic_counts()["patients"] == 3 and ours_in_auth() == 3
    assert entry_states() == {"collided": 2, "complete": 3}
    # The failing trigger too: a refusal, not an outage, whatever the header.
    with auth_server.failing_signup_trigger():
        refused = generate(supabase_gateway, patients=3, concurrency=1)
    assert "trigger or constraint on auth.users" in refused.stopped_by
    assert refused.retries.get("transient", 0) == 0
    assert_invariants(real_rows)
