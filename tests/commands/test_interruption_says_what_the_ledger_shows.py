"""A stop at each point of a user's creation (failpoints deliver the signal there, so the race is
deterministic): the command's closing line says what the ledger shows after the stop — "no user
was left half-written" only when no entry of the run is ``intent``, else how many are unsettled
and the purge command that settles them — and a row write that fails after the stop is still
undone (the compensating Auth delete is not cancelled by the stop)."""

from __future__ import annotations

import re
import signal

import pytest
from django.db import connection

from synthadmin.failpoints import (
    AFTER_AUTH_CREATE,
    AUTH_CREATE_IN_FLIGHT,
    BEFORE_AUTH_CREATE,
    ENV,
    ROWS_WRITE,
)
from synthadmin.models import SyntheticRun, SyntheticUser
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, start_manage, test_database_env

ARGS = ("generate_synthetic", "--patients", "4", "--checkins", "5", "--concurrency", "1")


def _generate_stopped_at(point: str, signum: signal.Signals = signal.SIGINT) -> tuple[int, str]:
    process = start_manage(*ARGS, env=test_database_env({ENV: f"{point}:{signum.name}"}))
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


@pytest.mark.exclusive
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


@pytest.mark.exclusive
def test_a_row_write_that_fails_after_the_stop_is_still_undone(failing_checkins):
    code, err = _generate_stopped_at(ROWS_WRITE)

    assert code == 130, err
    run = SyntheticRun.objects.get()
    states = set(SyntheticUser.objects.filter(run=run).values_list("state", flat=True))
    # The write failed after the stop: its Auth user was deleted again all the same.
    assert "compensated" in states and "intent" not in states, states
    assert _auth_users_of(run) == 0
    assert _assert_line_matches_ledger(_closing_line(err), run) == 0


@pytest.mark.exclusive
def test_an_undo_that_fails_is_named_with_the_purge_that_settles_it(failing_checkins):
    with connection.cursor() as cursor:  # the compensating delete is refused as well
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_refuse BEFORE DELETE ON auth.users "
            "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_refuse()"
        )

    code, err = _generate_stopped_at(ROWS_WRITE)

    assert code == 130, err
    run = SyntheticRun.objects.get()
    unsettled = _assert_line_matches_ledger(_closing_line(err), run)
    assert unsettled >= 1
    assert _auth_users_of(run) == unsettled
