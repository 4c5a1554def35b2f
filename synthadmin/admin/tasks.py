"""The admin's own task: "Delete selected synthetic users" for a selection too big for a request.

An adapter like the action itself (``synthadmin.admin.actions``): it calls the service
(``dispatch.users_delete``) and writes the admin's history of what the service reports deleted,
as the staff user who asked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from django.conf import settings
from django.contrib.admin.models import DELETION, LogEntry
from django_tasks import task

from profiles.models import Profile
from synthadmin.services.dispatch import users_delete
from synthadmin.services.reports import PurgeReport


def users_delete_logged(
    *, user_ids: list[uuid.UUID], log: Callable[[Sequence[Profile]], object], by: str
) -> PurgeReport:
    """Delete these synthetic users (the runs in progress writing for them asked to stop by
    ``by`` first), then ``log`` the profiles the report says were deleted (read before they go:
    the history keeps each profile's name). Raises what ``users_delete`` raises, before anything
    is deleted."""
    before = {str(p.pk): p for p in Profile.objects.filter(id__in=user_ids)}
    report = users_delete(user_ids=user_ids, by=by)
    deleted = [before[i] for i in report.deleted_user_ids if i in before]
    if deleted:
        log(deleted)
    return report


@task(queue_name=settings.SYNTHADMIN_TASK_QUEUE)
def delete_users_task(user_ids: list[str], logged_by: int | None, by: str = "purge") -> dict[str, object]:
    """Delete these synthetic users in the background (real ones left alone; a run in progress
    writing for them is asked to stop, by ``by``, and awaited first); each deletion goes into the
    admin's history as ``logged_by``'s. Returns the purge report."""

    def log(deleted: Sequence[Profile]) -> None:
        if logged_by is not None:
            LogEntry.objects.log_actions(logged_by, deleted, DELETION)

    return users_delete_logged(user_ids=[uuid.UUID(u) for u in user_ids], log=log, by=by).as_dict()
