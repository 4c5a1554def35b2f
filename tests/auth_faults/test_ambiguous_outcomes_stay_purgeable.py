"""Creates whose outcome the client never learnt — an answer lost after the user was stored, Auth
killed right after a commit, a latency twelve times the call deadline — leave ledger entries
``intent`` (never ``failed`` or ``collided``: the Auth user may exist), and ``synthetic_users_purge``
then leaves zero Auth users of ours and no profile of theirs."""

from __future__ import annotations

import pytest

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.models import SyntheticUser
from synthadmin.services.purge import synthetic_users_purge
from tests.auth_faults.conftest import entry_states, generate, ours_in_auth, profiles_of, q
from tests.invariants import assert_invariants, synthetic_counts


def _states_of(user_ids) -> set[str]:
    return set(SyntheticUser.objects.filter(user_id__in=list(user_ids)).values_list("state", flat=True))


def _purge_and_assert_nothing_of_ours(server, affected, real_population) -> None:
    with SupabaseAuthGateway(url=server.url, key=server.service_role_key) as gateway:
        report = synthetic_users_purge(gateway=gateway)
    assert report.errors == [], report.errors
    assert ours_in_auth() == 0
    assert profiles_of(affected) == 0
    assert q("SELECT count(*) FROM public.profiles WHERE is_test_patient") == [(0,)]
    assert entry_states().get("intent", 0) == 0
    assert_invariants(real_population)


def test_lost_answers_after_a_successful_create(real_population, auth_server, supabase_gateway, fixed_ids):
    # The answer to the 2nd user's create is lost after the user was stored, and Auth cannot be
    # asked either (every lookup 503): the retry meets "e-mail exists" it cannot attribute.
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.crash_after_create_next(1, status=None, user_id=fixed_ids[1])
    auth_server.faults.fail_next(1000, status=503, route="get")

    report = generate(supabase_gateway, patients=4, concurrency=1)

    assert report.status == "succeeded", report.error  # the user got a fresh identity
    affected = [fixed_ids[1]]
    assert q("SELECT count(*) FROM auth.users WHERE id = %s", [affected[0]]) == [(1,)]  # it exists
    assert _states_of(affected) == {"intent"}  # so the ledger keeps it for purge
    assert synthetic_counts()["patients"] == 4
    auth_server.faults.clear()
    _purge_and_assert_nothing_of_ours(auth_server, affected, real_population)


def test_auth_killed_mid_run(real_population, auth_server, supabase_gateway, fixed_ids):
    # Auth dies right after committing the 3rd user: no answer, no lookup, connections refused.
    auth_server.faults.die_after_create_next(user_id=fixed_ids[2])

    report = generate(supabase_gateway, patients=6, concurrency=1)

    assert report.status == "failed" and "unavailable" in report.stopped_by
    assert report.patients_created == 2
    affected = [fixed_ids[2]]
    assert q("SELECT count(*) FROM auth.users WHERE id = %s", [affected[0]]) == [(1,)]
    assert _states_of(affected) == {"intent"}
    # The users after it were refused before anything was sent: provably not created.
    assert ours_in_auth() == 3
    auth_server.start()  # Auth is back (on a new port)
    _purge_and_assert_nothing_of_ours(auth_server, affected, real_population)


# Was 30 s against a 2 s deadline (46 s a run): the same ratio, twelve deadlines and more, at
# 6 s against 0.5 s; every call and every lookup still ends at the deadline, unanswered.
@pytest.mark.parametrize("latency", [6.0])
def test_a_latency_far_past_a_short_deadline(
    real_population, auth_server, gateway_with_deadline, settings, latency
):
    settings.SYNTHADMIN_AUTH_RETRY_ATTEMPTS = 2
    auth_server.faults.grace(1)  # the preflight passes: Auth goes bad part way
    auth_server.faults.latency(latency)

    report = generate(gateway_with_deadline(0.5), patients=4, concurrency=2)

    assert report.status == "failed" and "did not answer within the call deadline" in report.stopped_by
    tried = list(SyntheticUser.objects.values_list("user_id", flat=True))
    assert _states_of(tried) == {"intent"}  # never "failed": every create may land later
    # Auth carries the abandoned requests out later, as a slow Auth does.
    assert auth_server.wait_idle(timeout=latency + 30)
    assert ours_in_auth() == len(tried)
    assert synthetic_counts()["patients"] == 0  # no profile of ours was flagged for them
    auth_server.faults.clear()
    _purge_and_assert_nothing_of_ours(auth_server, tried, real_population)
