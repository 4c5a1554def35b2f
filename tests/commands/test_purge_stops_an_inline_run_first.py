"""``purge_synthetic --run X`` while another process generates X inline (both real
subprocesses): the purge asks the run to stop through the database, the generating process sees
it between users (as a background chunk does), finishes or compensates its users in flight and
ends with "stopped: purged by …" (exit 3); the purge, once the run has stopped, removes all of
it and records it purged. A run that does not stop within the wait gets one clear line (exit 3),
and the same purge finishes it later.

The generating process is held after its first batch (a pause failpoint), so the purge always
meets it in progress and it stops exactly there: one whole batch made, whatever else the machine
runs."""

from __future__ import annotations

import subprocess

from django.db import connection

from synthadmin.failpoints import ENV, GENERATE_AFTER_BATCH, PAUSE
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.dispatch import run_purge_start_or_enqueue
from tests.dbutil import manage
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, frozen, start_manage, test_database_env, wait_for

#: Three batches: the process is held after the first, the purge arrives, the others never start.
PATIENTS = 12
BATCH = 4
#: One batch at a time, so that the one held is the only one written.
GENERATE = ("generate_synthetic", "--patients", str(PATIENTS), "--checkins", "5", "--concurrency", "1")
HELD_AFTER_FIRST_BATCH = {"SYNTHADMIN_BATCH_USERS": str(BATCH), ENV: f"{GENERATE_AFTER_BATCH}:{PAUSE}"}


def _count(query: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _generating() -> subprocess.Popen:
    """``generate_synthetic`` in a subprocess, held after its first batch until asked to stop."""
    return start_manage(*GENERATE, env=test_database_env(HELD_AFTER_FIRST_BATCH))


def _started_run(process) -> SyntheticRun:
    """The run, once its first batch is complete and the process is held there (in progress)."""
    wait_for(lambda: SyntheticUser.objects.filter(state="complete").count() >= BATCH, process, timeout=60)
    return SyntheticRun.objects.get()


def _assert_nothing_of_the_run_remains(run: SyntheticRun) -> None:
    ids = [str(u) for u in SyntheticUser.objects.filter(run=run).values_list("user_id", flat=True)]
    assert ids
    marker = "SELECT count(*) FROM auth.users WHERE raw_app_meta_data -> 'synthadmin' ->> 'run_id' = %s"
    assert _count(marker, [str(run.pk)]) == 0
    assert _count("SELECT count(*) FROM auth.users WHERE id::text = ANY(%s)", [ids]) == 0
    assert _count("SELECT count(*) FROM public.profiles WHERE id::text = ANY(%s)", [ids]) == 0
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id::text = ANY(%s)", [ids]) == 0
    assert not SyntheticUser.objects.filter(run=run, state__in=["complete", "intent"]).exists()
    run.refresh_from_db()
    assert run.purged_at is not None


def test_purge_stops_the_inline_run_then_removes_all_of_it(real_population):
    generating = _generating()
    try:
        run = _started_run(generating)

        purge = manage("purge_synthetic", "--run", str(run.pk), "--yes", env=test_database_env(), check=False)
        _out, err = finish(generating)
    finally:
        if generating.poll() is None:
            generating.kill()

    assert purge.returncode == 0, purge.stderr
    assert generating.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith("CommandError: stopped: purged by purge_synthetic (os:"), line
    assert "no user was left half-written" in line
    run.refresh_from_db()
    assert run.status == "aborted" and run.error_summary.startswith("cancelled by purge_synthetic")
    assert run.patients_created == BATCH < PATIENTS  # the batch it was held after
    _assert_nothing_of_the_run_remains(run)
    assert_invariants(real_population)


def test_a_run_that_does_not_stop_in_time_gets_one_line_and_a_second_purge_finishes(real_population):
    generating = _generating()
    try:
        run = _started_run(generating)
        with frozen(generating):  # alive, but it cannot stop
            purge = manage(
                "purge_synthetic",
                "--run",
                str(run.pk),
                "--yes",
                env=test_database_env({"SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS": "2"}),
                check=False,
            )
        _out, err = finish(generating)
    finally:
        if generating.poll() is None:
            generating.kill()

    assert purge.returncode == 3, purge.stderr
    (refusal,) = [line for line in purge.stderr.splitlines() if line.startswith("CommandError:")]
    assert f"run {run.pk} is still stopping" in refusal and "purge it again" in refusal
    assert generating.returncode == 3, err
    assert "stopped: purged by purge_synthetic" in err  # it saw the request once thawed
    run.refresh_from_db()
    assert run.patients_created == BATCH  # and stopped where it was held

    again = manage("purge_synthetic", "--run", str(run.pk), "--yes", env=test_database_env(), check=False)

    assert again.returncode == 0, again.stderr
    _assert_nothing_of_the_run_remains(run)
    assert_invariants(real_population)


def test_the_admins_purge_stops_the_inline_run_the_same_way(real_population):
    """The admin's "Purge this run" (the same service, in the request): the generating process
    names the staff member whose purge stopped it."""
    generating = _generating()
    try:
        run = _started_run(generating)

        report = run_purge_start_or_enqueue(run=run, by="staff:alice")
        _out, err = finish(generating)
    finally:
        if generating.poll() is None:
            generating.kill()

    assert report is not None and report.errors == []
    assert generating.returncode == 3, err
    assert "stopped: purged by staff:alice" in err
    run.refresh_from_db()
    assert run.patients_created == BATCH
    _assert_nothing_of_the_run_remains(run)
    assert_invariants(real_population)
