"""synthadmin's tasks on Django's Tasks framework, by the paths queued tasks stored.

Each task lives beside the service it runs (``services.chunks``, ``services.dispatch``); these
names keep the paths ``synthadmin.tasks.*`` that tasks queued by earlier versions recorded, and
the scheduled top-up's ``from synthadmin.tasks import extend_to_today_task``. The backend is
``TASKS["default"]`` (``SYNTHADMIN_TASK_BACKEND``: the database, or RQ on Redis); every task goes
to the ``SYNTHADMIN_TASK_QUEUE`` queue.
"""

from __future__ import annotations

from django.conf import settings
from django_tasks import task

from synthadmin.models import SyntheticRun
from synthadmin.services.chunks import run_chunk_task
from synthadmin.services.dispatch import delete_users_task, purge_run_task
from synthadmin.services.extend_today import synthetic_extend_to_today
from synthadmin.services.ledger import Starter


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def extend_to_today_task() -> dict[str, object]:
    """The scheduled top-up as a task: every synthetic patient's history extended to today
    (``extend_today.synthetic_extend_to_today(all_patients=True)``); returns what it did."""
    starter = Starter("task:extend_to_today", source=SyntheticRun.Source.API)
    return synthetic_extend_to_today(all_patients=True, started_by=starter).as_dict()


__all__ = ["delete_users_task", "extend_to_today_task", "purge_run_task", "run_chunk_task"]
