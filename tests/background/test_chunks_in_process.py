"""A background run's chunks, run in this process one by one (the logic, without worker
processes): phase barrier, same population as an inline run, resume after a crash, cancel."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.cancel import run_cancel
from synthadmin.services.chunks import CHUNK_MAX_ATTEMPTS, chunk_run, chunks_reap, run_enqueue
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from synthadmin.tasks import extend_to_today_task
from tests.background.conftest import assert_run_invariants, caseloads_of, population_of
from tests.invariants import therapist_links

pytestmark = pytest.mark.django_db(transaction=True)

STARTER = Starter("os:test")


@pytest.fixture(autouse=True)
def small_chunks(settings, supabase_tables_cleanup):
    settings.SYNTHADMIN_CHUNK_USERS = 4


def _work_all() -> list[str]:
    """Run every queued chunk in this process, in the order the database backend hands them out."""
    done: list[str] = []
    while True:
        ready = DBTaskResult.objects.ready().order_by("enqueued_at").first()
        if ready is None:
            return done
        ready.claim("in-process")
        done.append(chunk_run(*ready.task_result.args))
        ready.set_successful(None)


def test_a_run_of_chunks_creates_the_same_population_as_an_inline_run():
    request = GenerationRequest(
        patients=10, therapists=3, checkin_days=20, seed=42, mix={"stable": 6, "cycling": 4}
    )
    run = run_enqueue(request=request, started_by=STARTER)
    assert run.status == SyntheticRun.Status.QUEUED
    # The phase barrier: only therapist chunks exist until they are done.
    assert set(run.chunks.values_list("phase", flat=True)) == {"therapists"}
    assert _work_all() == ["done"] * 4  # 1 therapist chunk, then 3 patient chunks of 4, 4, 2
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED
    assert (run.patients_created, run.therapists_created) == (10, 3)
    assert_run_invariants(run.pk)
    inline = population_generate(request=request, started_by=STARTER)
    assert population_of(run.pk) == population_of(inline.run_id)
    assert inline.checkins_created == run.checkins_created


def test_a_chunk_run_again_skips_complete_users_and_settles_intents():
    run = run_enqueue(request=GenerationRequest(patients=4, checkin_days=5, seed=7), started_by=STARTER)
    chunk = run.chunks.get()
    assert _work_all() == ["done"]
    complete = list(run.users.order_by("job_index").values_list("user_id", flat=True))
    # As if its worker had died part way: the last user's Auth user exists, its rows do not.
    last = run.users.get(job_index=3)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.profiles WHERE id = %s", [last.user_id])
    SyntheticUser.objects.filter(pk=last.pk).update(state=SyntheticUser.State.INTENT)
    RunChunk.objects.filter(pk=chunk.pk).update(state=RunChunk.State.QUEUED)
    SyntheticRun.objects.filter(pk=run.pk).update(status=SyntheticRun.Status.RUNNING)
    assert chunk_run(chunk.pk) == "done"
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and run.patients_created == 4
    now_complete = list(
        run.users.filter(state="complete").order_by("job_index").values_list("user_id", flat=True)
    )
    assert now_complete[:3] == complete[:3] and now_complete[3] != complete[3]
    assert run.users.get(pk=last.pk).state == SyntheticUser.State.PURGED
    assert_run_invariants(run.pk)


def test_cancel_before_any_worker_aborts_at_once():
    run = run_enqueue(request=GenerationRequest(patients=9, seed=1), started_by=STARTER)
    run = run_cancel(run=run, by="staff:alice")
    assert run.status == SyntheticRun.Status.ABORTED
    assert "alice" in run.error_summary
    assert set(run.chunks.values_list("state", flat=True)) == {"cancelled"}
    assert _work_all() == ["skipped"] * 3
    assert not run.users.exists()


def test_patients_of_a_therapist_that_failed_go_to_the_others_in_job_order():
    run = run_enqueue(
        request=GenerationRequest(patients=10, therapists=3, checkin_days=3, seed=11), started_by=STARTER
    )
    therapists_chunk = run.chunks.get()
    assert chunk_run(therapists_chunk.pk) == "done"  # the barrier enqueues the patients
    # As if the middle therapist had failed: its user is gone, its ledger entry not complete.
    middle = run.users.get(job_index=1)
    synthetic_users_purge(user_ids=[middle.user_id])
    assert _work_all()[-3:] == ["done"] * 3
    run.refresh_from_db()
    # The lost therapist is the run's one failure; every patient was created.
    assert (run.status, run.users_failed, run.patients_created) == (SyntheticRun.Status.PARTIAL, 1, 10)
    first, last = (run.users.get(job_index=i, state="complete").user_id for i in (0, 2))
    links = therapist_links()
    patients = run.users.filter(role="patient").order_by("job_index").values_list("user_id", flat=True)
    assert [links[p] for p in patients] == [first, last] * 5  # round-robin over the two, in job order
    assert sorted(caseloads_of(run.pk)) == [5, 5]


def test_the_reaper_requeues_a_chunk_whose_worker_stopped_beating(fast_liveness):

    run = run_enqueue(request=GenerationRequest(patients=3, checkin_days=2), started_by=STARTER)
    chunk = run.chunks.get()
    stale = timezone.now() - dt.timedelta(seconds=10)
    RunChunk.objects.filter(pk=chunk.pk).update(
        state="running", worker_host="another-host", worker_pid=1, attempts=1, heartbeat_at=timezone.now()
    )
    assert chunks_reap() == []  # another host, fresh heartbeat: alive
    RunChunk.objects.filter(pk=chunk.pk).update(heartbeat_at=stale)
    assert [c.pk for c in chunks_reap()] == [chunk.pk]
    chunk.refresh_from_db()
    assert chunk.state == "queued"
    assert sorted(_work_all()) == ["done", "skipped"]  # whichever task comes first runs it, once
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED
    # A chunk whose workers kept dying is given up: the run fails, saying why.
    run2 = run_enqueue(request=GenerationRequest(patients=2, checkin_days=2), started_by=STARTER)
    chunk2 = run2.chunks.get()
    RunChunk.objects.filter(pk=chunk2.pk).update(
        state="running",
        worker_host="another-host",
        attempts=CHUNK_MAX_ATTEMPTS,
        heartbeat_at=stale,
    )
    chunks_reap()
    run2.refresh_from_db()
    assert run2.status == SyntheticRun.Status.FAILED and "died" in run2.error_summary


def test_the_top_up_task_extends_every_synthetic_patient_to_today():

    yesterday_week = timezone.localdate() - dt.timedelta(days=7)
    population_generate(
        request=GenerationRequest(patients=3, checkin_days=10, end_date=yesterday_week, adherence=1.0),
        started_by=STARTER,
    )
    extend_to_today_task.enqueue()

    ready = DBTaskResult.objects.ready().get()
    ready.claim("in-process")
    result = ready.task.call()
    assert result["patients_extended"] == 3
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM public.check_ins WHERE checkin_date = %s", [timezone.localdate()]
        )
        assert cursor.fetchone()[0] == 3


def test_users_a_stop_ended_before_anything_was_sent_are_not_failures_of_a_cancelled_run(settings):
    """A SIGTERMed worker records the users it had not yet sent as never sent
    (``ledger.entry_not_sent``); if the run is then cancelled, they were never tried."""

    run = run_enqueue(request=GenerationRequest(patients=8, checkin_days=2, seed=5), started_by=STARTER)

    first = DBTaskResult.objects.ready().order_by("enqueued_at").first()
    assert first is not None
    first.claim("in-process")
    assert chunk_run(*first.task_result.args) == "done"  # users 0-3
    first.set_successful(None)
    entry = ledger.entry_intent(
        run=run, user_id=uuid.uuid4(), email="stopped.4@example.com", role="patient", attempt=1, job_index=4
    )
    ledger.entry_not_sent(entry.pk, "stopped while waiting to call Supabase Auth")

    run = run_cancel(run=run, by="os:test")

    assert run.status == SyntheticRun.Status.ABORTED
    assert (run.patients_created, run.users_failed) == (4, 0)
