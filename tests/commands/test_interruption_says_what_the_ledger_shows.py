"""A stop at each point of a user's creation (failpoints deliver the signal there, so the race is
deterministic): the command's closing line says what the ledger shows after the stop — "no user
was left half-written" only when no entry of the run is ``intent``, else how many are unsettled
and the purge command that settles them — and a row write that fails after the stop is still
undone (the compensating Auth delete is not cancelled by the stop).

Not ``exclusive``: each signal goes to the test's own subprocess at a failpoint, which waits for
the stop to be seen, so the outcome does not depend on what else the machine runs."""

from __future__ import annotations

import re
import signal

import pytest
from django.db import connection

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.failpoints import (
    AFTER_AUTH_CREATE,
    AUTH_CREATE_IN_FLIGHT,
    BEFORE_AUTH_CREATE,
    ENV,
    ROWS_WRITE,
)
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.purge import synthetic_users_purge
from tests.auth.conftest import test_database_conninfo
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, start_manage, test_database_env, wait_for
from tests.support.gotrue import GoTrueDouble

ARGS = ("generate_synthetic", "--patients", "4", "--checkins", "5", "--concurrency", "1")


def _generate_stopped_at(
    point: str, signum: signal.Signals = signal.SIGINT, *, batch_users: int = 1
) -> tuple[int, str]:
    """The run stopped by ``signum`` at ``point``; batches of one user by default, so each stop
    point is one user's (a batch that has started is finished, or compensated, as a whole)."""
    env = {ENV: f"{point}:{signum.name}", "SYNTHADMIN_BATCH_USERS": str(batch_users)}
    process = start_manage(*ARGS, env=test_database_env(env))
    _out, err = finish(process)
    return process.returncode, err


def _closing_line(err: str) -> str:
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    return line


def _auth_users_of(run: SyntheticRun) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM auth.users WHERE raw_app_meta_data -> 'synthadmin' ->> 'run_id' = %s",
            [str(run.pk)],
        )
        return cursor.fetchone()[0]


def _assert_line_matches_ledger(line: str, run: SyntheticRun) -> int:
    """The closing line against the ledger: returns the number of unsettled (intent) entries."""
    unsettled = SyntheticUser.objects.filter(run=run, state="intent").count()
    assert f"purge_synthetic --run {run.pk}" in line
    if unsettled:
        assert "half-written" not in line
        assert re.search(rf"\b{unsettled} user\(s\) left unsettled\b", line), line
    else:
        assert "no user was left half-written" in line and "unsettled" not in line
    complete = SyntheticUser.objects.filter(run=run, state="complete").count()
    assert f"{complete} patients and 0 therapists are complete" in line
    return unsettled


@pytest.mark.parametrize(
    ("point", "signum"),
    [
        (BEFORE_AUTH_CREATE, signal.SIGINT),
        (AUTH_CREATE_IN_FLIGHT, signal.SIGINT),
        (AFTER_AUTH_CREATE, signal.SIGINT),
        (ROWS_WRITE, signal.SIGINT),
        (ROWS_WRITE, signal.SIGTERM),
    ],
)
def test_a_stop_at_each_point_ends_with_the_ledgers_truth(real_population, point, signum):
    code, err = _generate_stopped_at(point, signum)

    assert code == 128 + signum, err
    assert "Traceback" not in err
    run = SyntheticRun.objects.get()
    assert run.status == "aborted"
    line = _closing_line(err)
    assert f"stopped by {signum.name}" in line
    assert _assert_line_matches_ledger(line, run) == 0  # on the local backend every call settles
    # The stop started nothing new: not all four were made. A user whose Auth call went out
    # was finished; one stopped before it was never sent.
    assert SyntheticUser.objects.filter(run=run, state="complete").count() < 4
    if point != BEFORE_AUTH_CREATE:
        assert SyntheticUser.objects.filter(run=run, state="complete").count() >= 1
    assert _auth_users_of(run) == SyntheticUser.objects.filter(run=run, state="complete").count()
    assert_invariants(real_population)


@pytest.fixture
def failing_checkins(real_population):
    """Every check-in insert refused (installed after the real rows were written)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION public.synthadmin_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_refuse BEFORE INSERT ON public.check_ins "
            "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_refuse()"
        )
    yield real_population
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS synthadmin_test_refuse ON public.check_ins")
        cursor.execute("DROP TRIGGER IF EXISTS synthadmin_test_refuse ON auth.users")
        cursor.execute("DROP FUNCTION IF EXISTS public.synthadmin_test_refuse()")


def test_a_row_write_that_fails_after_the_stop_is_still_undone(failing_checkins):
    code, err = _generate_stopped_at(ROWS_WRITE)

    assert code == 130, err
    run = SyntheticRun.objects.get()
    states = set(SyntheticUser.objects.filter(run=run).values_list("state", flat=True))
    # The write failed after the stop: its Auth user was deleted again all the same.
    assert "compensated" in states and "intent" not in states, states
    assert _auth_users_of(run) == 0
    assert _assert_line_matches_ledger(_closing_line(err), run) == 0


@pytest.mark.parametrize("batch_users", [1, 100], ids=["one-user-batches", "one-batch"])
def test_an_undo_that_fails_is_named_with_the_purge_that_settles_it(failing_checkins, batch_users):
    with connection.cursor() as cursor:  # the compensating delete is refused as well
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_refuse BEFORE DELETE ON auth.users "
            "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_refuse()"
        )

    code, err = _generate_stopped_at(ROWS_WRITE, batch_users=batch_users)

    assert code == 130, err
    run = SyntheticRun.objects.get()
    unsettled = _assert_line_matches_ledger(_closing_line(err), run)
    assert unsettled >= 1
    # A patient who skipped each of the days asked for has no check-in for the trigger to refuse:
    # its rows were written and it is complete (its Auth user rightly stays). Every other Auth
    # user is one whose undo was refused, each named unsettled.
    complete = SyntheticUser.objects.filter(run=run, state="complete")
    assert all(checkins == 0 for checkins in complete.values_list("checkins", flat=True))
    assert _auth_users_of(run) == unsettled + complete.count()
    # Each unsettled user's failure line says its Auth user is left for purge, not "deleted again".
    failed_lines = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed_lines) == unsettled
    assert all("left for purge" in line and "deleted again" not in line for line in failed_lines), (
        failed_lines
    )


# --- the Supabase path, through the Auth test server -------------------------------------------


@pytest.fixture
def auth_server(supabase_tables_cleanup):
    """The Auth test server on the test database (the command reaches it over HTTP)."""
    with GoTrueDouble(conninfo=test_database_conninfo()) as server:
        yield server


def _purge_settles_it(server, run: SyntheticRun, real_population) -> None:
    """The purge the line names settles what the stop left: nothing of the run remains."""
    server.faults.clear()
    with SupabaseAuthGateway(url=server.url, key=server.service_role_key) as gateway:
        report = synthetic_users_purge(run=run.pk, gateway=gateway)
    assert report.errors == []
    assert _auth_users_of(run) == 0
    assert not SyntheticUser.objects.filter(run=run, state="intent").exists()
    assert_invariants(real_population)


def _supabase_env(server, extra: dict[str, str] | None = None) -> dict[str, str]:
    return test_database_env(
        {
            "SUPABASE_URL": server.url,
            "SUPABASE_SERVICE_ROLE_KEY": server.service_role_key,
            "SYNTHADMIN_AUTH_RETRY_BASE_SECONDS": "0.01",
            "SYNTHADMIN_AUTH_RETRY_MAX_WAIT": "0.05",
            **(extra or {}),
        }
    )


@pytest.mark.parametrize("point", [BEFORE_AUTH_CREATE, AFTER_AUTH_CREATE, ROWS_WRITE])
def test_a_stop_on_the_supabase_path_ends_with_the_ledgers_truth(real_population, auth_server, point):
    process = start_manage(*ARGS, env=_supabase_env(auth_server, {ENV: f"{point}:SIGINT"}))
    _out, err = finish(process)

    assert process.returncode == 130, err
    run = SyntheticRun.objects.get()
    assert run.status == "aborted" and run.auth_backend == "supabase"
    # The other worker's call may be in flight when the stop comes: cut, then one bounded
    # lookup; if that cannot settle it, the entry stays intent and the line counts it.
    unsettled = _assert_line_matches_ledger(_closing_line(err), run)
    complete = SyntheticUser.objects.filter(run=run, state="complete").count()
    assert complete <= _auth_users_of(run) <= complete + unsettled
    _purge_settles_it(auth_server, run, real_population)


def test_a_stop_with_the_supabase_call_in_flight_names_what_it_left(real_population, auth_server):
    """The server holds the first create, read but not yet carried out, and SIGINT comes while it
    is held: the call is cut, the one bounded lookup finds no such user (yet), so its outcome is
    unknown. The entry stays intent, and the line says so and names the purge. The server then
    goes on with the create its client left (as GoTrue finishes a request whose client has gone),
    and that purge removes the user it made."""
    auth_server.faults.grace(1)  # the preflight passes at once
    auth_server.faults.hold_next(route="create")
    process = start_manage(*ARGS, env=_supabase_env(auth_server, {"SYNTHADMIN_BATCH_USERS": "1"}))
    try:
        wait_for(auth_server.faults.holding.is_set, process, timeout=60)
        process.send_signal(signal.SIGINT)
        _out, err = finish(process, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, err
    run = SyntheticRun.objects.get()
    line = _closing_line(err)
    assert _assert_line_matches_ledger(line, run) == 1  # the held user: its outcome is unknown
    assert SyntheticUser.objects.filter(run=run, state="complete").count() == 0
    assert _auth_users_of(run) == 0  # nothing of it stored yet
    auth_server.faults.release_holds()
    assert auth_server.wait_settled(timeout=30)
    assert _auth_users_of(run) == 1  # the create landed after its client had gone
    _purge_settles_it(auth_server, run, real_population)
