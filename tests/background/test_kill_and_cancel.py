"""A worker killed with -9 mid-user: another worker finishes the run (no orphan, no duplicate).
Cancel from the run page mid-run: the run ends ``aborted`` within seconds, nothing half-made,
no batch started after the request (the worker held after its first batch by a pause failpoint,
so the cancel always meets the run in progress, at a known point)."""

from __future__ import annotations

import datetime as dt
import signal
import time

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.urls import reverse
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from synthadmin.failpoints import AFTER_AUTH_CREATE, ENV, GENERATE_AFTER_BATCH, PAUSE
from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.background.conftest import assert_run_invariants, run_ended, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

#: 150 patients in chunks of 25: the same six patient chunks as 600 in the default 100, so a
#: killed or stopped worker leaves as much for the next one to take over, a quarter as long.
PATIENTS = 150
CHUNK_USERS = 25
#: Users per batch where the test holds a chunk at a batch boundary.
BATCH = 5


def _enqueue(patients: int, *, therapists: int = 4, concurrency: int | None = None) -> SyntheticRun:
    return run_enqueue(
        request=GenerationRequest(
            patients=patients,
            therapists=therapists,
            checkin_days=30,
            seed=99,
            end_date=dt.date(2026, 6, 30),
            concurrency=concurrency,
        ),
        started_by=Starter("os:test"),
    )


def _in_flight(run: SyntheticRun, worker_pid: int) -> bool:
    """A user of ``worker_pid``'s chunk is between its intent and its rows."""
    chunks = RunChunk.objects.filter(run=run, worker_pid=worker_pid, state=RunChunk.State.RUNNING)
    for chunk in chunks:
        if run.users.filter(
            state=SyntheticUser.State.INTENT, job_index__gte=chunk.first, job_index__lt=chunk.stop
        ).exists():
            return True
    return False


@pytest.mark.exclusive
def test_a_worker_killed_mid_user_is_replaced_and_the_run_completes(workers, settings):
    settings.SYNTHADMIN_CHUNK_USERS = CHUNK_USERS
    run = _enqueue(PATIENTS)
    # The worker kills itself (-9) where its first batch's Auth users exist and none of their rows
    # do: users in flight, at a known point (a kill sent from here after seeing an intent could
    # land after that batch had committed: CI saw "no user was in flight").
    first = workers.start(extra={ENV: AFTER_AUTH_CREATE})
    first.wait(timeout=120)
    assert first.returncode == -signal.SIGKILL
    killed = RunChunk.objects.filter(run=run, worker_pid=first.pid, state=RunChunk.State.RUNNING)
    assert killed.exists(), "the killed worker's chunk is left running"
    assert run.users.filter(state=SyntheticUser.State.INTENT).exists(), "no user was in flight"
    killed_tasks = set(killed.values_list("task_id", flat=True))
    began = time.monotonic()
    second = workers.start()
    wait_until(run_ended(run.pk), timeout=600, what="the run to end after the restart", workers=workers)
    print(f"finished {time.monotonic() - began:.1f} s after the restart")
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert (run.patients_created, run.therapists_created) == (PATIENTS, 4)
    # The killed chunk ran again, in the new worker.
    rerun = RunChunk.objects.filter(run=run, attempts__gte=2)
    assert rerun.exists() and set(rerun.values_list("worker_pid", flat=True)) == {second.pid}
    assert_run_invariants(run.pk)
    # The task backend's records tell the same story: the killed task failed (its worker died),
    # no task of the run is left "running".
    died = DBTaskResult.objects.filter(id__in=killed_tasks)
    assert {(r.status, r.exception_class_path.rsplit(".", 1)[-1]) for r in died} == {
        (TaskResultStatus.FAILED, "WorkerDiedError")
    }
    first_died = died.first()
    assert first_died is not None and "died" in first_died.traceback
    tasks = DBTaskResult.objects.filter(task_path__endswith="run_chunk_task")
    assert not tasks.filter(status=TaskResultStatus.RUNNING).exists()


def test_cancel_from_the_run_page_aborts_the_run_within_seconds(client, workers, settings):
    user = User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests")
    client.force_login(user)
    settings.SYNTHADMIN_CHUNK_USERS = CHUNK_USERS
    # Four chunks of five batches, one batch at a time; the worker is held after the first batch
    # of the first chunk until the run winds down (a chunk stops between batches).
    run = _enqueue(4 * CHUNK_USERS, therapists=0, concurrency=1)
    workers.start(extra={"SYNTHADMIN_BATCH_USERS": str(BATCH), ENV: f"{GENERATE_AFTER_BATCH}:{PAUSE}"})
    wait_until(
        lambda: run.users.filter(state=SyntheticUser.State.COMPLETE).count() >= BATCH,
        timeout=60,
        what="the run to be under way",
        workers=workers,
    )
    page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b'id="cancel-run"' in page.content
    cancelled_at = time.monotonic()
    response = client.post(reverse("admin:synthadmin_syntheticrun_cancel", args=[run.pk]))
    assert response.status_code == 302
    wait_until(run_ended(run.pk), timeout=60, what="the cancelled run to end", workers=workers)
    print(f"aborted {time.monotonic() - cancelled_at:.1f} s after Cancel")
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.ABORTED
    assert run.cancel_requested_by == "staff:operator"
    assert run.patients_created == BATCH  # the batch it was held after, and no other
    # The running chunk reads the cancel flag (every 0.25 s) and starts no batch after it.
    assert not run.users.filter(created_at__gt=run.cancel_requested_at).exists()
    assert run.users.count() == BATCH
    assert set(run.chunks.values_list("state", flat=True)) <= {RunChunk.State.DONE, RunChunk.State.CANCELLED}
    assert LogEntry.objects.filter(object_id=str(run.pk), action_flag=CHANGE).exists()
    assert_run_invariants(run.pk)
    progress = client.get(reverse("admin:synthadmin_syntheticrun_progress", args=[run.pk])).json()
    assert progress["status"] == "aborted" and progress["finished"]
    assert progress["users_done"] == run.patients_created


def test_cancel_needs_the_generate_permission_and_a_post(client, supabase_tables_cleanup):
    run = _enqueue(10)
    staff = User.objects.create_user("viewer", password="pw-for-tests", is_staff=True)
    client.force_login(staff)
    url = reverse("admin:synthadmin_syntheticrun_cancel", args=[run.pk])
    assert client.post(url).status_code == 403
    admin = User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests")
    client.force_login(admin)
    assert client.get(url).status_code == 405
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.QUEUED and run.cancel_requested_at is None


@pytest.mark.exclusive
def test_sigterm_stops_a_worker_cleanly_and_its_chunk_goes_back_to_the_queue(workers, settings):
    settings.SYNTHADMIN_CHUNK_USERS = CHUNK_USERS
    run = _enqueue(PATIENTS)
    first = workers.start()
    wait_until(lambda: _in_flight(run, first.pid), timeout=120, what="a user in flight", workers=workers)
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "stopped" in out
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.RUNNING  # not finished: its chunk waits for a worker
    assert not run.chunks.filter(state=RunChunk.State.RUNNING).exists()
    assert not run.users.filter(state=SyntheticUser.State.INTENT).exists()  # in flight: finished
    stopped = run.chunks.filter(worker_pid=first.pid).exclude(state=RunChunk.State.DONE).get()
    assert (stopped.state, stopped.attempts) == (RunChunk.State.QUEUED, 0)  # a clean stop is no attempt
    workers.start()
    wait_until(run_ended(run.pk), timeout=600, what="the run to end", workers=workers)
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and run.patients_created == PATIENTS
    assert_run_invariants(run.pk)
