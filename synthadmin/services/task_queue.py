"""Is a queued chunk's task still in the task backend? Found, lost, or not known.

A queue can lose what it holds: Redis restarted without persistence, an eviction, a ``FLUSHDB``;
a task row deleted from the database backend, or ended without running its chunk; a task taken
by a worker that died before it claimed the chunk; a chunk whose enqueue never happened (the
backend was down when its run was enqueued). Such a chunk stays ``queued`` for ever, whatever
the workers do. ``chunks_lost`` tells which queued chunks are in that state and why; the reaper
(``chunks.chunks_reap``) enqueues them again, and the run page says it (``progress``).

Never a guess when the backend does not answer: ``BackendUnreachable`` is raised instead, and
nothing is re-enqueued until it answers again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import django_rq.settings
import redis
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus

from synthadmin.exceptions import SynthadminError
from synthadmin.models import RunChunk

#: Seconds a Redis probe waits for a connection, and for an answer.
REDIS_CONNECT_SECONDS = 2.0
REDIS_ANSWER_SECONDS = 5.0


class BackendUnreachable(SynthadminError):
    """The task backend (Redis) does not answer: whether a task is there cannot be known."""


#: What enqueueing raises when the backend does not answer: Redis's errors (connection refused,
#: timeouts, a server loading its data) and the database's.
QUEUE_ERRORS: tuple[type[Exception], ...] = (RedisError, DatabaseError)


def backend_name() -> str:
    """The task backend, as the run page and the worker name it: ``Redis at redis://host:port/db``
    (never a password) or ``the database's task table``."""
    if settings.SYNTHADMIN_TASK_BACKEND != "rq":
        return "the database's task table"
    kwargs = _redis().connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return f"Redis at redis://{where}/{kwargs.get('db', 0)}"


def chunks_lost(chunks: Iterable[RunChunk]) -> dict[int, str]:
    """Of ``chunks`` (queued ones), those whose task the backend has lost: chunk pk → why.

    Lost at once: no task at all (no job in Redis, no task row), or a task that ended (finished,
    failed, stopped) while its chunk is still queued. Lost after ``SYNTHADMIN_WORKER_STALE_SECONDS``:
    a chunk never enqueued (no task id), a job queued but in no queue, a task a worker took but
    whose chunk it never claimed. Raises BackendUnreachable when Redis does not answer.
    """
    queued = [chunk for chunk in chunks if chunk.state == RunChunk.State.QUEUED]
    stale = timezone.now() - dt.timedelta(seconds=settings.SYNTHADMIN_WORKER_STALE_SECONDS)
    lost = {
        chunk.pk: "it was never enqueued (the task backend did not answer then)"
        for chunk in queued
        if not chunk.task_id and chunk.created_at < stale
    }
    with_task = [chunk for chunk in queued if chunk.task_id]
    if with_task:
        look = _rq_lost if settings.SYNTHADMIN_TASK_BACKEND == "rq" else _db_lost
        lost.update(look(with_task, stale))
    return lost


def _db_lost(chunks: list[RunChunk], stale: dt.datetime) -> dict[int, str]:
    ids = [chunk.task_id for chunk in chunks if _is_uuid(chunk.task_id)]
    rows = {
        str(task_id): (status, started_at)
        for task_id, status, started_at in DBTaskResult.objects.filter(id__in=ids).values_list(
            "id", "status", "started_at"
        )
    }
    lost = {}
    for chunk in chunks:
        row = rows.get(chunk.task_id)
        if row is None:
            lost[chunk.pk] = f"its task {chunk.task_id} is gone from the database's task table"
        elif row[0] in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
            lost[chunk.pk] = f"its task {chunk.task_id} ended ({row[0].lower()}) without running it"
        elif row[0] == TaskResultStatus.RUNNING and row[1] is not None and row[1] < stale:
            lost[chunk.pk] = f"its task {chunk.task_id} was taken by a worker that never ran it"
    return lost


def _rq_lost(chunks: list[RunChunk], stale: dt.datetime) -> dict[int, str]:
    connection = _redis()
    try:
        jobs = Job.fetch_many([chunk.task_id for chunk in chunks], connection=connection)
        in_queue = set(Queue(settings.SYNTHADMIN_TASK_QUEUE, connection=connection).get_job_ids())
    except RedisError as exc:
        raise BackendUnreachable(f"{backend_name()} does not answer ({type(exc).__name__})") from exc
    ended = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
    lost = {}
    for chunk, job in zip(chunks, jobs, strict=True):
        if job is None:
            lost[chunk.pk] = f"no job {chunk.task_id} in {backend_name()} (flushed, evicted or restarted)"
            continue
        status = job.get_status(refresh=False)
        if status in ended:
            lost[chunk.pk] = f"its job {chunk.task_id} ended ({status.value}) without running it"
        elif status == JobStatus.QUEUED and chunk.task_id not in in_queue and _before(job.enqueued_at, stale):
            lost[chunk.pk] = f"its job {chunk.task_id} is in no queue of {backend_name()}"
        elif status == JobStatus.STARTED and _before(job.started_at, stale):
            lost[chunk.pk] = f"its job {chunk.task_id} was taken by a worker that never ran it"
    return lost


def _redis() -> redis.Redis:
    """A client for the run queue's Redis with short timeouts (a probe must not hang)."""
    url = django_rq.settings.QUEUES[settings.SYNTHADMIN_TASK_QUEUE]["URL"]
    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_SECONDS, socket_timeout=REDIS_ANSWER_SECONDS
    )


def _before(moment: dt.datetime | None, stale: dt.datetime) -> bool:
    if moment is None:
        return True
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment < stale


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


__all__ = ["QUEUE_ERRORS", "BackendUnreachable", "backend_name", "chunks_lost"]
