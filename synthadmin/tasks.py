"""synthadmin's tasks on Django's Tasks framework (the ``django-tasks`` backport of Django 6's
``django.tasks``): thin wrappers over ``synthadmin.services.background``.

The backend is ``TASKS["default"]`` (``SYNTHADMIN_TASK_BACKEND``: the database, or RQ on Redis);
every task goes to the ``SYNTHADMIN_TASK_QUEUE`` queue. Any worker of that backend runs them.
"""

from __future__ import annotations

from django.conf import settings
from django_tasks import task

from synthadmin.services import background


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def run_chunk_task(chunk_id: int) -> str:
    """Run one chunk of a background run (``background.chunk_run``); returns what became of it."""
    return background.chunk_run(chunk_id)


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def purge_run_task(run_id: str) -> dict[str, object]:
    """Purge one run in the background (``synthetic_purge``; a run in progress is cancelled and
    awaited first); returns the purge report."""
    import uuid

    from synthadmin.services.purge import synthetic_purge

    return synthetic_purge(run=uuid.UUID(run_id)).as_dict()


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def delete_users_task(user_ids: list[str], logged_by: int | None) -> dict[str, object]:
    """Delete these synthetic users in the background (``background.users_delete``: real ones
    left alone, deletions logged in the admin's history as ``logged_by``); returns the report."""
    import uuid

    return background.users_delete(user_ids=[uuid.UUID(u) for u in user_ids], logged_by=logged_by).as_dict()


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def extend_to_today_task() -> dict[str, object]:
    """The scheduled top-up as a task: every synthetic patient's history extended to today
    (``extend_today.checkins_extend_to_today(all_patients=True)``); returns what it did."""
    from synthadmin.models import SyntheticRun
    from synthadmin.services.extend_today import checkins_extend_to_today
    from synthadmin.services.generation import Starter

    starter = Starter("task:extend_to_today", source=SyntheticRun.Source.API)
    return checkins_extend_to_today(all_patients=True, started_by=starter).as_dict()
