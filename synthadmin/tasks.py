"""synthadmin's tasks on Django's Tasks framework, by the paths queued tasks stored.

Each task lives beside the service it runs (``services.chunks``, ``services.dispatch``,
``services.extend_today``); these names keep the paths ``synthadmin.tasks.*`` that tasks
queued by earlier versions recorded, and the scheduled top-up's
``from synthadmin.tasks import extend_to_today_task``. The backend is ``TASKS["default"]``
(``SYNTHADMIN_TASK_BACKEND``: the database, or RQ on Redis); every task goes to the
``SYNTHADMIN_TASK_QUEUE`` queue.
"""

from __future__ import annotations

from synthadmin.admin.tasks import delete_users_task
from synthadmin.services.chunks import run_chunk_task
from synthadmin.services.dispatch import purge_run_task
from synthadmin.services.extend_today import extend_to_today_task

__all__ = ["delete_users_task", "extend_to_today_task", "purge_run_task", "run_chunk_task"]
