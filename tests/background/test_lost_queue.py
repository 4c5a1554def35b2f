"""A queue that lost its tasks is found and healed. Database backend (in this process, chunk by
chunk): a task row deleted, ended, or taken by a worker that died before it claimed its chunk, and
a chunk never enqueued, are enqueued again by the reaper and the run ends succeeded with exact
counts, no duplicate, no orphan; what is still in the queue is left alone; a cancelled run's lost
chunk is settled; a chunk lost again and again is given up. The run page says which it waits for.
(RQ — FLUSHDB, a Redis restart mid-run — is ``test_lost_redis_queue.py``.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from synthadmin.models import RunChunk, SyntheticRun
from synthadmin.services.cancel import run_cancel
from synthadmin.services.chunks import CHUNK_MAX_ATTEMPTS, chunk_run, chunks_reap, run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.progress import run_progress
from synthadmin.services.requests import GenerationRequest
from synthadmin.services.workers import worker_touch
from tests.background.conftest import assert_run_invariants, run_ended, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

STARTER = Starter("os:test")


@pytest.fixture(autouse=True)
def small_chunks(settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_CHUNK_USERS = 3
    settings.SYNTHADMIN_WORKER_STALE_SECONDS = 3.0


def _work_all(most: int | None = None) -> list[str]:
    """Run the ready tasks (at most ``most``) in this process, as the database backend hands them out."""
    done: list[str] = []
    while (ready := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        if most is not None and len(done) >= most:
            break
        ready.claim("in-process")
        done.append(chunk_run(*ready.task_result.args))
        ready.set_successful(None)
    return done


def _enqueue(patients: int = 7, therapists: int = 2) -> SyntheticRun:
    return run_enqueue(
        request=GenerationRequest(patients=patients, therapists=therapists, checkin_days=3, seed=11),
        started_by=STARTER,
    )


def _finished(run: SyntheticRun, patients: int = 7, therapists: int = 2) -> None:
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert (run.patients_created, run.therapists_created, run.users_failed) == (patients, therapists, 0)
    assert set(run.chunks.values_list("state", flat=True)) == {RunChunk.State.DONE}
    assert_run_invariants(run.pk)


def _age(seconds: float = 10) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def test_a_deleted_task_row_is_enqueued_again_and_the_run_succeeds():
    run = _enqueue()
    chunk = run.chunks.get()
    DBTaskResult.objects.all().delete()  # the queue lost it
    assert _work_all() == []  # nothing to do: the run would wait for ever
    assert run_progress(run).message.startswith("queued — no worker")

    reaped = chunks_reap()
    assert [c.pk for c in reaped] == [chunk.pk]
    chunk.refresh_from_db()
    assert chunk.state == RunChunk.State.QUEUED and DBTaskResult.objects.filter(id=chunk.task_id).exists()
    assert chunks_reap() == []  # enqueued once, not at every look
    # The patient chunks come after the therapists; delete theirs too, mid-run.
    assert _work_all(most=1) == ["done"]
    DBTaskResult.objects.ready().delete()
    assert len(chunks_reap()) == run.chunks.filter(state=RunChunk.State.QUEUED).count() == 3
    assert _work_all() == ["done"] * 3
    _finished(run)


@pytest.mark.parametrize(
    ("status", "started", "lost"),
    [
        (TaskResultStatus.SUCCESSFUL, None, True),  # ended without running its chunk
        (TaskResultStatus.FAILED, None, True),
        (TaskResultStatus.RUNNING, 10, True),  # taken by a worker that died before claiming the chunk
        (TaskResultStatus.RUNNING, 0, False),  # taken a moment ago: about to claim it
        (TaskResultStatus.READY, None, False),  # waiting in the queue
    ],
)
def test_a_task_that_ended_or_was_taken_and_dropped_is_lost_and_a_waiting_one_is_not(status, started, lost):
    run = _enqueue(patients=2, therapists=0)
    chunk = run.chunks.get()
    DBTaskResult.objects.filter(id=chunk.task_id).update(
        status=status, started_at=_age(started) if started is not None else None
    )
    assert [c.pk for c in chunks_reap()] == ([chunk.pk] if lost else [])
    if lost:
        old = chunk.task_id
        chunk.refresh_from_db()
        assert chunk.task_id != old and chunk.attempts == 1
        if status == TaskResultStatus.RUNNING:
            assert DBTaskResult.objects.get(id=old).status == TaskResultStatus.FAILED
        assert _work_all() == ["done"]
        _finished(run, patients=2, therapists=0)


def test_a_chunk_never_enqueued_is_enqueued_once_it_is_old_enough():
    run = _enqueue(patients=2, therapists=0)
    chunk = run.chunks.get()
    DBTaskResult.objects.all().delete()
    RunChunk.objects.filter(pk=chunk.pk).update(task_id="")  # the backend was down at enqueue
    assert chunks_reap() == []  # a moment old: its enqueue may still be under way
    RunChunk.objects.filter(pk=chunk.pk).update(created_at=_age())
    assert [c.pk for c in chunks_reap()] == [chunk.pk]
    assert _work_all() == ["done"]
    _finished(run, patients=2, therapists=0)


def test_a_cancelled_runs_lost_chunk_is_settled_and_the_run_ends():
    run = _enqueue(patients=2, therapists=0)
    DBTaskResult.objects.all().delete()
    run_cancel(run=run, by="staff:alice")
    chunks_reap()
    wait_until(run_ended(run.pk), timeout=10, what="the cancelled run to end")
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.ABORTED
    assert list(run.chunks.values_list("state", flat=True)) == [RunChunk.State.CANCELLED]


def test_a_chunk_lost_again_and_again_is_given_up_and_the_run_fails():
    run = _enqueue(patients=2, therapists=0)
    for _ in range(CHUNK_MAX_ATTEMPTS):
        DBTaskResult.objects.all().delete()
        chunks_reap()
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.FAILED
    assert f"its task was lost {CHUNK_MAX_ATTEMPTS} times" in run.error_summary


def test_the_run_page_tells_a_lost_task_from_a_missing_worker():
    run = _enqueue(patients=2, therapists=0)
    assert run_progress(run).message.startswith("queued — no worker has picked it up")
    worker_touch(backend="db")  # a live worker
    assert run_progress(run).message == "queued — waiting for a worker"
    DBTaskResult.objects.all().delete()
    message = run_progress(run).message
    assert message.startswith("queued — the task queue lost the task of users 0-1 (its task ")
    assert "is gone from the database's task table); a worker enqueues it again within" in message
    chunks_reap()
    assert run_progress(run).message == "queued — waiting for a worker"


def test_a_worker_heals_a_run_whose_task_rows_were_deleted(workers):
    """The same with a real worker process: it finds the lost chunk when it starts."""
    run = _enqueue()
    DBTaskResult.objects.all().delete()
    process = workers.start()
    wait_until(run_ended(run.pk), timeout=120, what="the healed run", workers=workers)
    _finished(run)
    (out, err), *_ = workers.stop_all()
    assert process.returncode == 0 and "Traceback" not in err
    assert "1 chunk(s) enqueued again" in out
