"""What the admin says about queued work: plainly, when no worker is running to take it.

Every admin operation that may be queued (Generate, a scenario's Run and Reset, Purge this run,
Delete selected synthetic users) reports through ``queued_message``: a success while a worker is
alive to take the work, a warning that names the worker command when none is (the work waits in
the queue until one starts). The Generate preview and the reset confirmation say the same
before anything is queued (``waiting_note``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from synthadmin.services.dispatch import Placement, queued_placement
from synthadmin.services.workers import WORKER_COMMAND

NO_WORKER = "No worker is running: it waits in the queue until one starts ({})."


def waiting_note(users: int) -> str:
    """Before queueing: why ``users`` users would wait, in one sentence."""
    inline = settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS
    return (
        f"No worker is running. {users:,} users is more than the {inline} this page creates itself, "
        f"so the run will be queued and wait, creating nobody, until a worker starts "
        f"({WORKER_COMMAND})."
    )


def queued_message(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    text: str | SafeString,
    where: Placement | None = None,
) -> Placement:
    """Tell staff that ``text`` was queued: a success while a worker is alive, a warning naming
    the worker command when none is (``where``: already known, else looked up now)."""
    where = where or queued_placement()
    if where == Placement.WAITS:
        modeladmin.message_user(
            request, format_html("{} " + NO_WORKER, text, WORKER_COMMAND), messages.WARNING
        )
    else:
        modeladmin.message_user(request, text, messages.SUCCESS)
    return where


__all__ = ["NO_WORKER", "queued_message", "waiting_note"]
