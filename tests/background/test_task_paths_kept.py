"""Tasks queued by earlier versions stored the paths ``synthadmin.tasks.*``: those paths still
name the same tasks (each now beside the service it runs), so a worker runs what was queued."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from synthadmin.models import SyntheticRun
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest


@pytest.mark.parametrize(
    "name", ["run_chunk_task", "purge_run_task", "delete_users_task", "extend_to_today_task"]
)
def test_the_old_paths_name_the_tasks(name):
    assert isinstance(import_string(f"synthadmin.tasks.{name}"), Task)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_queued_under_the_old_path_runs(supabase_tables_cleanup):
    run = run_enqueue(
        request=GenerationRequest(patients=2, checkin_days=2, seed=3), started_by=Starter("os:test")
    )
    DBTaskResult.objects.update(
        task_path="synthadmin.tasks.run_chunk_task"
    )  # as an earlier version stored it
    ready = DBTaskResult.objects.ready().get()
    ready.claim("in-process")
    assert ready.task.call(*ready.task_result.args) == "done"
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED and run.patients_created == 2
