"""Ways in: ``generate_synthetic --background``, the admin form (inline when small and no worker
is alive, else enqueued), Django's plain ``db_worker``, and purge of a run in progress."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from synthadmin.services.cancel import runs_purge
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from synthadmin.services.workers import worker_stopped, worker_touch, workers_alive
from tests.background.conftest import assert_run_invariants, run_ended, wait_until
from tests.dbutil import ROOT
from tests.ops.helpers import test_database_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate_background_enqueues_and_says_how_to_follow(supabase_tables_cleanup):
    out = StringIO()
    call_command("generate_synthetic", "--patients", "30", "--therapists", "2", "--background", stdout=out)
    run = SyntheticRun.objects.get()
    text = out.getvalue()
    assert run.status == SyntheticRun.Status.QUEUED and run.background
    assert str(run.pk) in text and "list_runs" in text
    assert f"/admin/synthadmin/syntheticrun/{run.pk}/change/" in text
    assert "start one with: python manage.py synthadmin_worker" in text
    assert not SyntheticUser.objects.exists()  # no user until a worker runs it
    assert RunChunk.objects.filter(run=run, phase="therapists").count() == 1


def test_generate_background_json_and_refusals(supabase_tables_cleanup):
    out = StringIO()
    call_command("generate_synthetic", "--patients", "3", "--background", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["status"] == "queued" and document["workers_alive"] == 0
    with pytest.raises(CommandError, match="--background: not with --credentials-out"):
        call_command("generate_synthetic", "--background", "--credentials-out", "x.csv", stdout=StringIO())
    with pytest.raises(
        CommandError, match=r"not with --dry-run \(a background run always writes; drop --background"
    ):
        call_command("generate_synthetic", "--background", "--dry-run", stdout=StringIO())
    with pytest.raises(CommandError, match="--patients"):
        call_command("generate_synthetic", "--background", "--patients", "-1", stdout=StringIO())
    assert SyntheticRun.objects.count() == 1


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests")
    client.force_login(user)
    return client


FORM = {
    "patients": "5",
    "therapists": "1",
    "checkin_days": "7",
    "pattern": "stable",
    "seed": "3",
    "end_date": "",
}


def test_admin_runs_a_small_run_inline_when_no_worker_is_alive(operator, supabase_tables_cleanup):
    response = operator.post(reverse("admin:profiles_profile_generate"), FORM)
    run = SyntheticRun.objects.get()
    assert run.status == SyntheticRun.Status.SUCCEEDED and not run.background
    assert response.status_code == 302 and f"run={run.pk}" in response["Location"]


def test_admin_enqueues_a_small_run_when_a_worker_is_alive(operator, supabase_tables_cleanup):
    worker_touch(backend="db")  # this process counts as a live worker
    try:
        response = operator.post(reverse("admin:profiles_profile_generate"), FORM)
    finally:
        worker_stopped()
    run = SyntheticRun.objects.get()
    assert run.status == SyntheticRun.Status.QUEUED and run.background
    assert response["Location"] == reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
    page = operator.get(response["Location"])
    assert b'id="run-progress"' in page.content and b"Queued" in page.content


def test_the_run_page_says_when_no_worker_has_picked_a_run_up(operator, supabase_tables_cleanup):
    run = run_enqueue(request=GenerationRequest(patients=50), started_by=Starter("os:test"))
    progress = operator.get(reverse("admin:synthadmin_syntheticrun_progress", args=[run.pk])).json()
    assert progress["status"] == "queued" and progress["users_total"] == 50 and progress["users_done"] == 0
    assert (
        progress["message"]
        == "queued — no worker has picked it up; start one with: python manage.py synthadmin_worker"
    )


def test_plain_db_worker_processes_the_tasks(supabase_tables_cleanup):
    run = run_enqueue(
        request=GenerationRequest(patients=40, therapists=3, checkin_days=10), started_by=Starter("os:test")
    )
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "db_worker",
            "--queue-name",
            "synthadmin",
            "--batch",
            "--no-startup-delay",
            "--no-reload",
        ],
        cwd=ROOT,
        env=test_database_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert (run.patients_created, run.therapists_created) == (40, 3)
    assert_run_invariants(run.pk)


def test_purging_a_run_in_progress_cancels_it_first(workers, settings):
    run = run_enqueue(
        request=GenerationRequest(patients=1500, checkin_days=30), started_by=Starter("os:test")
    )
    workers.start()
    wait_until(
        lambda: run.users.filter(state=SyntheticUser.State.COMPLETE).count() >= 20,
        timeout=120,
        what="the run to be under way",
        workers=workers,
    )
    report = runs_purge(run=run.pk)
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.ABORTED and run.cancel_requested_by == "purge"
    assert report.users_deleted == run.patients_created > 0
    assert run.purged_at is not None
    assert not run.users.filter(state__in=["complete", "intent"]).exists()
    assert_run_invariants(run.pk)
    wait_until(run_ended(run.pk), timeout=5, what="nothing")


def test_the_admin_purges_a_big_run_in_the_background(operator, workers, settings):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 10
    run = run_enqueue(
        request=GenerationRequest(patients=60, therapists=2, checkin_days=5), started_by=Starter("os:test")
    )
    workers.start()
    wait_until(run_ended(run.pk), timeout=120, what="the run", workers=workers)
    wait_until(lambda: bool(workers_alive()), timeout=30, what="a live worker", workers=workers)
    response = operator.post(reverse("admin:synthadmin_syntheticrun_purge", args=[run.pk]), follow=True)
    assert "Purge queued" in " ".join(str(m) for m in response.context["messages"])
    wait_until(
        lambda: SyntheticRun.objects.get(pk=run.pk).purged_at is not None,
        timeout=120,
        what="the purge task",
        workers=workers,
    )
    assert not run.users.filter(state__in=["complete", "intent"]).exists()
    assert_run_invariants(run.pk)
