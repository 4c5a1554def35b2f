"""The RQ side of ``synthadmin_worker``: RQ's worker, kept alive across a lost Redis.

A Redis restart (or a network cut) used to end the worker with a traceback while its chunk was
fine in the database. ``rq_work`` runs RQ's ``SimpleWorker`` and, when Redis is lost, says so
once (``RedisOutage``; RQ's own per-retry lines and its traceback are held back,
``RedisRetriesQuiet``), waits with random exponential backoff until Redis answers
(``_redis_awaited``), and starts working again under the same name. A stop request (SIGTERM,
Ctrl-C) ends it at any point, the chunk in hand going back to the queue as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import django_rq
import redis
from django.conf import settings
from django_tasks_rq import Job
from rq.exceptions import StopRequested
from rq.worker import SimpleWorker
from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_random_exponential

from synthadmin.services.task_queue import backend_name
from synthadmin.services.workers import worker_shutdown

logger = logging.getLogger("synthadmin.worker")

#: The longest wait between two tries at a Redis that does not answer.
REDIS_WAIT_MAX_SECONDS = 30.0
#: What RQ raises when Redis does not answer (BusyLoadingError, a restarting server, is one).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def rq_work(worker_id: str, *, batch: bool) -> None:
    """RQ's worker, started again after Redis was lost (a restart, a network cut): one line
    when the outage begins, then a wait with backoff until Redis answers; the chunk in hand
    goes on meanwhile (it needs only the database), and no traceback ends the process."""
    outage = RedisOutage(backend_name())
    quiet = RedisRetriesQuiet(outage)
    logging.getLogger("rq.worker").addFilter(quiet)
    try:
        while True:
            worker = _rq_worker(worker_id, outage)
            try:
                worker.work(burst=batch, with_scheduler=False, logging_level="WARNING")
            except REDIS_DOWN as exc:  # its last words (registering its death) need Redis too
                outage.begin(exc)
            except StopRequested:
                return
            if worker_shutdown.is_set() or (batch and not outage.active):
                return
            if not _redis_awaited(worker, outage):
                return
    finally:
        logging.getLogger("rq.worker").removeFilter(quiet)


class RedisOutage:
    """Says an outage once: a WARNING line when Redis stops answering, an INFO line when it
    answers again (shown with SYNTHADMIN_LOG_LEVEL=INFO); nothing per retry."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.since: float | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.since is not None

    def begin(self, exc: BaseException) -> None:
        with self._lock:
            if self.since is None:
                self.since = time.monotonic()
                logger.warning(
                    "%s does not answer (%s); the worker waits for it, retrying with backoff",
                    self.where,
                    type(exc).__name__,
                )

    def end(self) -> None:
        with self._lock:
            if self.since is not None:
                logger.info("%s answers again after %.1f s", self.where, time.monotonic() - self.since)
                self.since = None


class RedisRetriesQuiet(logging.Filter):
    """RQ logs each of its reconnection attempts, and a traceback when its loop gives up on a lost
    connection; those records carry the Redis error (an argument, or the exception logged): the
    outage is said once instead. Any other record passes."""

    def __init__(self, outage: RedisOutage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        carried: list[object] = [record.exc_info[1]] if record.exc_info else []
        carried += list(record.args) if isinstance(record.args, tuple) else []
        error = next((e for e in carried if isinstance(e, REDIS_DOWN)), None)
        if error is None:
            return True
        self.outage.begin(error)
        return False


def _rq_worker(worker_id: str, outage: RedisOutage) -> SimpleWorker:
    queue = django_rq.get_queue(settings.SYNTHADMIN_TASK_QUEUE, job_class=Job)

    class Worker(SimpleWorker):
        """Runs each job in this process (no fork), beside the heartbeat and reaper threads
        (the chunk records this pid); a stop request also sends the chunk in hand back; a
        heartbeat that reaches Redis ends an outage."""

        def request_stop(self, signum: Any, frame: Any) -> None:
            worker_shutdown.set()
            try:
                super().request_stop(signum, frame)  # type: ignore[no-untyped-call]
            except REDIS_DOWN:
                # RQ records the stop in Redis, which does not answer: stop after the job in hand.
                self._stop_requested = True

        def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
            super().heartbeat(timeout, pipeline)
            if pipeline is None:
                outage.end()

    return Worker([queue], connection=queue.connection, job_class=Job, name=worker_id)


def _redis_awaited(worker: SimpleWorker, outage: RedisOutage) -> bool:
    """Wait (random exponential backoff, up to ``REDIS_WAIT_MAX_SECONDS`` between tries) until
    Redis answers, then record the old worker's death (so the next may register under its name).
    False when the worker is asked to stop meanwhile."""
    retrying = Retrying(
        retry=retry_if_exception_type(REDIS_DOWN),
        wait=wait_random_exponential(multiplier=0.5, max=REDIS_WAIT_MAX_SECONDS),
        stop=stop_when_event_set(worker_shutdown),
        sleep=_pause,
        reraise=True,
    )

    def ping() -> None:
        try:
            worker.connection.ping()
        except REDIS_DOWN as exc:
            outage.begin(exc)
            raise

    try:
        retrying(ping)
        worker.register_death()  # type: ignore[no-untyped-call]
    except (*REDIS_DOWN, StopRequested):
        return False
    if not outage.active:
        worker_shutdown.wait(1.0)  # it quit for another reason (logged by RQ): not in a tight loop
    return not worker_shutdown.is_set()


def _pause(seconds: float) -> None:
    worker_shutdown.wait(seconds)  # a stop request ends the wait at once


__all__ = ["REDIS_DOWN", "RedisOutage", "RedisRetriesQuiet", "rq_work"]
