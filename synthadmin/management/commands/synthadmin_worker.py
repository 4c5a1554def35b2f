"""``python manage.py synthadmin_worker``: a task worker for background runs (a thin adapter).

Wraps the backend's own worker — django-tasks-db's ``Worker`` (``db_worker``) or an RQ worker —
and adds what synthadmin's runs need beside it: a heartbeat thread that records this process as
a live worker (``TaskWorker``: the admin runs small runs inline only when none is alive), and a
reaper thread that re-enqueues chunks whose worker died or whose task the queue lost
(``chunks.chunks_reap``). The RQ worker outlives a Redis restart (``management.rq_worker``).
SIGTERM / Ctrl-C: the chunk in hand starts no new user, lets those in flight end, and goes back
to the queue; then the worker exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DBWorker

from synthadmin.management.base import SynthadminCommand
from synthadmin.management.rq_worker import rq_work
from synthadmin.services.chunks import chunks_reap
from synthadmin.services.ledger import process_identity
from synthadmin.services.workers import worker_id_set, worker_shutdown, worker_stopped, worker_touch

logger = logging.getLogger("synthadmin.worker")


class Command(SynthadminCommand):
    help = "Run a worker for background runs (the task backend of SYNTHADMIN_TASK_BACKEND)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            choices=["db", "rq"],
            default=None,
            help="the task backend; must be the one the runs are enqueued on (SYNTHADMIN_TASK_BACKEND, "
            "default db)",
        )
        parser.add_argument("--worker-id", default=None, help="a unique name (default: host-pid-random)")
        parser.add_argument(
            "--batch", action="store_true", help="process the tasks that are ready, then exit (db backend)"
        )
        parser.add_argument(
            "--interval", type=float, default=0.5, help="seconds between polls when idle (db backend)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = options["backend"] or settings.SYNTHADMIN_TASK_BACKEND
        if backend != settings.SYNTHADMIN_TASK_BACKEND:
            raise CommandError(
                f"--backend {backend}: runs are enqueued on SYNTHADMIN_TASK_BACKEND="
                f"{settings.SYNTHADMIN_TASK_BACKEND}; set SYNTHADMIN_TASK_BACKEND={backend} for every "
                "process (the admin, the commands and the workers)"
            )
        host, pid, _started = process_identity()
        worker_id = options["worker_id"] or f"{host}-{pid}-{get_random_string(6)}"
        if len(worker_id) > 64:
            raise CommandError("--worker-id: at most 64 characters")
        # The backend's own worker logs its start, stop and every task at INFO / WARNING.
        level = {0: logging.CRITICAL, 1: logging.WARNING}.get(options["verbosity"], logging.INFO)
        for name in ("django_tasks_db", "django_tasks", "rq.worker"):
            logging.getLogger(name).setLevel(level)
        worker_id_set(worker_id)
        worker_touch(backend=backend)
        reaped = chunks_reap()
        if reaped and options["verbosity"] >= 1:
            self.stdout.write(
                f"{len(reaped)} chunk(s) enqueued again (their worker died, or the queue lost their task)"
            )
        done = threading.Event()
        threads = [
            threading.Thread(target=_every, args=(settings.SYNTHADMIN_WORKER_HEARTBEAT_SECONDS, done, _beat)),
            threading.Thread(target=_every, args=(settings.SYNTHADMIN_REAPER_SECONDS, done, _reap)),
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        if options["verbosity"] >= 1:
            self.stdout.write(f"synthadmin worker {worker_id} ({backend} backend, pid {pid}) started")
        try:
            if backend == "rq":
                rq_work(worker_id, batch=options["batch"])
            else:
                self._work_db(worker_id, batch=options["batch"], interval=options["interval"])
        finally:
            done.set()
            for thread in threads:
                thread.join(timeout=5)
            worker_stopped()
        if options["verbosity"] >= 1:
            self.stdout.write(f"synthadmin worker {worker_id} stopped")

    def _work_db(self, worker_id: str, *, batch: bool, interval: float) -> None:
        worker = DBWorker(
            queue_names=[settings.SYNTHADMIN_TASK_QUEUE],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            worker_shutdown.set()  # the chunk in hand goes back to the queue
            try:
                worker.shutdown(signum, frame)
            except SystemExit:
                raise KeyboardInterrupt from None  # idle: leave the loop now

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        try:
            worker.run()
        except KeyboardInterrupt:
            pass


def _every(seconds: float, done: threading.Event, action: Any) -> None:
    try:
        while not done.wait(seconds):
            try:
                action()
            except Exception:
                logger.warning("worker %s failed", action.__name__, exc_info=True)
            # Between beats the connection goes back to the process's budget
            # (SYNTHADMIN_DB_CONNECTIONS): the chunk being run needs it more.
            connections["default"].close()
    finally:
        connections.close_all()


def _beat() -> None:
    worker_touch()


def _reap() -> None:
    chunks_reap()  # each chunk enqueued again is logged, with why (its worker died, its task was lost)
