"""Task workers: who this process is, the registry of live workers, and a running chunk's heartbeat.

A worker (``synthadmin_worker``, or any process that runs a chunk) records itself in
``TaskWorker`` and beats while it lives; it is alive while its heartbeat is fresh
(``SYNTHADMIN_WORKER_STALE_SECONDS``) and, on this host, its process still runs.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Q
from django.utils import timezone

from synthadmin.db.budget import connection_release_if_wanted
from synthadmin.models import RunChunk, SyntheticRun, TaskWorker
from synthadmin.services.ledger import process_alive, process_identity

logger = logging.getLogger(__name__)

#: What an operator runs to start a worker (said wherever a run waits for one).
WORKER_COMMAND = "python manage.py synthadmin_worker"
#: This process's worker id, as a worker command sets it; else ``host:pid``.
_worker_id: str | None = None
#: Set when this worker process is asked to stop (SIGTERM, Ctrl-C): a running chunk starts no
#: new user, lets those in flight end, and goes back to the queue for another worker.
worker_shutdown = threading.Event()


def worker_id_set(worker_id: str) -> None:
    """Name this process's worker (``synthadmin_worker`` does, before it works)."""
    global _worker_id
    _worker_id = worker_id


def worker_id() -> str:
    """This process's worker id (``worker_id_set``'s, else ``host:pid``)."""
    host, pid, _started = process_identity()
    return _worker_id or f"{host}:{pid}"


def worker_touch(*, backend: str = "") -> None:
    """Record this process as a live worker (a heartbeat)."""
    host, pid, started = process_identity()
    defaults = {"host": host, "pid": pid, "process_started_at": started, "heartbeat_at": timezone.now()}
    if backend:
        defaults["backend"] = backend
    TaskWorker.objects.update_or_create(worker_id=worker_id(), defaults={**defaults, "stopped_at": None})


def worker_stopped() -> None:
    """This process's worker stops (a clean exit)."""
    TaskWorker.objects.filter(worker_id=worker_id()).update(stopped_at=timezone.now())


def workers_alive() -> list[TaskWorker]:
    """Workers of this process's task backend (``SYNTHADMIN_TASK_BACKEND``; a worker of the
    other backend will never see this process's tasks) whose heartbeat is fresh
    (``SYNTHADMIN_WORKER_STALE_SECONDS``) and, on this host, whose process still runs."""
    host, _pid, _started = process_identity()
    fresh = timezone.now() - dt.timedelta(seconds=settings.SYNTHADMIN_WORKER_STALE_SECONDS)
    candidates = TaskWorker.objects.filter(stopped_at__isnull=True, heartbeat_at__gte=fresh).filter(
        Q(backend=settings.SYNTHADMIN_TASK_BACKEND) | Q(backend="")
    )
    return [w for w in candidates if w.host != host or process_alive(w.pid, w.process_started_at)]


class ChunkHeartbeat:
    """While a chunk runs, a thread beats for it (the chunk's, its run's and its worker's
    heartbeat) and sets ``wind_down`` once the run's cancel flag is set or the worker stops."""

    def __init__(self, chunk: RunChunk, wind_down: threading.Event) -> None:
        self.chunk = chunk
        self.wind_down = wind_down
        self.done = threading.Event()
        self.last = 0.0
        # In a copy of this context: its log lines carry the chunk's run id (synthadmin.logs).
        self.thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._loop,),
            name="synthadmin-chunk-heartbeat",
            daemon=True,
        )

    def start(self) -> None:
        self._beat()
        self.thread.start()

    def finish(self) -> None:
        self.done.set()
        self.thread.join()

    def _loop(self) -> None:
        try:
            # The cancel flag is read every SYNTHADMIN_CANCEL_POLL_SECONDS (one primary-key lookup),
            # not only at heartbeats: a chunk of 100 users can finish in a second locally.
            while not self.done.wait(settings.SYNTHADMIN_CANCEL_POLL_SECONDS):
                if worker_shutdown.is_set() or self._cancel_requested():
                    self.wind_down.set()
                if time.monotonic() - self.last >= settings.SYNTHADMIN_WORKER_HEARTBEAT_SECONDS:
                    self._beat()
                connection_release_if_wanted()  # a thread of the chunk waits for a connection
        finally:
            connections.close_all()

    def _cancel_requested(self) -> bool:
        try:
            cancelled = SyntheticRun.objects.filter(pk=self.chunk.run_id, cancel_requested_at__isnull=False)
            return cancelled.exists()
        except DatabaseError:  # a lost database is reported by the writes that need it
            connections["default"].close()
            return False

    def _beat(self) -> None:
        self.last = time.monotonic()
        try:
            now = timezone.now()
            RunChunk.objects.filter(pk=self.chunk.pk, state=RunChunk.State.RUNNING).update(heartbeat_at=now)
            SyntheticRun.objects.filter(pk=self.chunk.run_id).update(heartbeat_at=now)
            TaskWorker.objects.filter(worker_id=worker_id()).update(heartbeat_at=now)
            if (
                worker_shutdown.is_set()
                or SyntheticRun.objects.filter(
                    pk=self.chunk.run_id, cancel_requested_at__isnull=False
                ).exists()
            ):
                self.wind_down.set()
        except DatabaseError:  # a lost database is reported by the writes that need it
            connections["default"].close()
            logger.warning("chunk %s: heartbeat not recorded", self.chunk.pk, exc_info=True)


__all__ = [
    "WORKER_COMMAND",
    "ChunkHeartbeat",
    "worker_id",
    "worker_id_set",
    "worker_shutdown",
    "worker_stopped",
    "worker_touch",
    "workers_alive",
]
