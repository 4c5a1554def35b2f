"""An inline run sees a cancel the way a background chunk does: through the database.

A purge of a run in progress (``services.cancel.runs_stop_before_purge``), or **Cancel this run**
on its page (``services.cancel.run_cancel``), sets the run's cancel flag, whichever process owns
the run. While an inline run creates its users, ``CancelWatch`` reads that flag every
``SYNTHADMIN_CANCEL_POLL_SECONDS`` (one primary-key lookup, on its own connection) and, once it
is set, sets the run's ``wind_down``: no new user is started, the users in flight are finished
or compensated, and the run ends ``aborted`` — then a purge, which waits for that, removes what
it made. A run adding check-in days (``services.extend_today``,
``services.backfill``) watches its own run the same way and stops between batches.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from types import TracebackType

from django.conf import settings
from django.db import DatabaseError, connections

from synthadmin.db.budget import connection_release_if_wanted
from synthadmin.models import SyntheticRun


class CancelWatch:
    """Context manager: while inside, a thread sets ``wind_down`` once the run's cancel flag is
    set; ``requested_by`` then says who asked ("" while nobody has), ``for_purge`` whether it
    was a purge of the run (which removes what the run made) rather than a Cancel.

    ``read_on_exit``: on leaving, read the flag once more, so that a cancel that came in the last
    poll interval still counts (a generation's report then says the purge stopped it). A run
    that checks ``wind_down`` only between batches passes False: once its last batch is written
    a late cancel stops nothing, and the read would be one round trip more for every run.
    """

    def __init__(self, run_id: uuid.UUID, wind_down: threading.Event, *, read_on_exit: bool = True) -> None:
        self.run_id = run_id
        self.wind_down = wind_down
        self.read_on_exit = read_on_exit
        self.requested_by = ""
        self.for_purge = False
        self._done = threading.Event()
        # In a copy of this context: its log lines carry the run id (synthadmin.logs).
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._loop,),
            name="synthadmin-cancel-watch",
            daemon=True,
        )

    def __enter__(self) -> CancelWatch:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        if self.read_on_exit and not self.requested_by:
            self._read()  # a cancel that came in the last poll interval still counts

    def _loop(self) -> None:
        try:
            while not self._done.wait(settings.SYNTHADMIN_CANCEL_POLL_SECONDS):
                if self._read():
                    self.wind_down.set()
                    return
                # The run's own threads come first: between polls, the connection goes back
                # whenever one of them waits for a slot (``db.budget``).
                connection_release_if_wanted()
        finally:
            connections.close_all()

    def _read(self) -> bool:
        try:
            found = (
                SyntheticRun.objects.filter(pk=self.run_id, cancel_requested_at__isnull=False)
                .values_list("cancel_requested_by", "cancel_for_purge")
                .first()
            )
        except DatabaseError:  # a lost database is reported by the writes that need it
            connections["default"].close()
            return False
        if found is None:
            return False
        by, self.for_purge = found
        self.requested_by = by or "a cancel"
        return True


__all__ = ["CancelWatch"]
