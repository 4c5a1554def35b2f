"""Eight 429s with ``Retry-After: 1`` at the start of a run: the run succeeds; no create reaches
the server less than ``Retry-After`` after the 429 before it, from any worker thread (one flow
controller per run); the report and the command's summary show the rate limiting."""

from __future__ import annotations

from tests.auth_faults.conftest import command_env, generate, ours_in_auth, run_command
from tests.invariants import assert_invariants, synthetic_counts
from tests.support.gotrue import GoTrueDouble

RATE_LIMITED = 8
RETRY_AFTER = 1.0


def assert_retry_after_honoured(server: GoTrueDouble) -> None:
    """In the server's own log (one clock): every create came at least Retry-After after the
    last 429 answered before it arrived."""
    creates = server.requests_for("create")
    limited = [r for r in creates if r.status == 429]
    assert len(limited) == RATE_LIMITED and all(r.retry_after == "1" for r in limited)
    for request in creates:
        before = [
            r.answered_at
            for r in limited
            if r.answered_at is not None and r.answered_at <= request.received_at
        ]
        if before:
            gap = request.received_at - max(before)
            assert gap >= RETRY_AFTER, f"a create came {gap:.3f} s after a 429 asking for {RETRY_AFTER} s"


def test_the_run_waits_out_every_retry_after_and_succeeds(real_population, auth_server, supabase_gateway):
    auth_server.faults.fail_next(RATE_LIMITED, status=429, retry_after=RETRY_AFTER)

    report = generate(supabase_gateway, patients=5, concurrency=4)

    assert report.status == "succeeded", report.error
    assert synthetic_counts()["patients"] == 5 and ours_in_auth() == 5
    assert_retry_after_honoured(auth_server)
    # Several workers waited: the controller, not one thread's backoff, kept them all out.
    assert len(auth_server.requests_for("create")) == 5 + RATE_LIMITED
    flow = report.auth_flow
    assert flow["rate_limited"] == RATE_LIMITED
    assert flow["paused_seconds"] >= RATE_LIMITED * RETRY_AFTER * 0.9
    assert 1 <= flow["concurrency_settled"] <= flow["concurrency_max"] == 4
    assert report.failures == [] and report.stopped_by == ""  # a 429 is no failure of a user
    assert_invariants(real_population)


def test_the_command_summary_shows_the_rate_limiting(real_population, auth_server):
    auth_server.faults.fail_next(RATE_LIMITED, status=429, retry_after=RETRY_AFTER)

    result, _ = run_command(
        "generate_synthetic", "--patients", "5", "--checkins", "5", env=command_env(auth_server)
    )

    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "rate limited" in line]
    assert f"{RATE_LIMITED} answers 429" in row and "concurrency settled at" in row
    assert "succeeded" in result.stdout
    assert_retry_after_honoured(auth_server)
    assert synthetic_counts()["patients"] == 5
    assert_invariants(real_population)
