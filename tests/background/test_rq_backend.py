"""The RQ backend: the DB backend's admin run (20 patient chunks) through Redis, finished by two
RQ workers (``synthadmin_worker`` with ``SYNTHADMIN_TASK_BACKEND=rq``). Skipped when Redis does
not answer."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from synthadmin.models import RunChunk, SyntheticRun
from tests.background.conftest import assert_run_invariants, chunk_workers, run_ended, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

#: A Redis database of its own, emptied before and after.
REDIS_URL = os.environ.get("SYNTHADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PATIENTS = int(os.environ.get("BACKGROUND_TEST_PATIENTS", "400"))
CHUNK_USERS = int(os.environ.get("BACKGROUND_TEST_CHUNK_USERS", "20"))


@pytest.fixture
def redis_database() -> Iterator[None]:
    """The test's Redis database, for this test session alone: two suites on one machine (the
    embedded and the PostgreSQL 15 run side by side) would empty each other's queue."""
    digest = hashlib.sha256(REDIS_URL.encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"synthadmin-tests-redis-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture
def redis_queue(settings, monkeypatch, redis_database):
    import django_rq.settings
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL}: {exc}")
    connection.flushdb()
    settings.SYNTHADMIN_CHUNK_USERS = CHUNK_USERS
    queue = settings.SYNTHADMIN_TASK_QUEUE
    settings.TASKS = {"default": settings.TASK_BACKENDS["rq"]}
    settings.SYNTHADMIN_TASK_BACKEND = "rq"
    # django-rq reads its queues once, at import: point this process's queue at the test database.
    monkeypatch.setitem(django_rq.settings.QUEUES, queue, {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1})
    yield connection
    connection.flushdb()


def test_two_rq_workers_finish_an_admin_run(client, redis_queue, workers):
    user = User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests")
    client.force_login(user)
    response = client.post(
        reverse("admin:profiles_profile_generate"),
        {
            "patients": str(PATIENTS),
            "therapists": "20",
            "checkin_days": "30",
            "pattern": "stable",
            "seed": "5",
        },
    )
    run = SyntheticRun.objects.get()
    assert run.status == SyntheticRun.Status.QUEUED
    assert response.status_code == 302
    assert redis_queue.llen("rq:queue:synthadmin") == 1  # the therapist chunk, in Redis
    began = time.monotonic()
    rq_env = {"SYNTHADMIN_TASK_BACKEND": "rq", "REDIS_URL": REDIS_URL}
    workers.start(backend="rq", extra=rq_env)
    workers.start(backend="rq", extra=rq_env)
    wait_until(run_ended(run.pk), timeout=1200, what="the RQ run", workers=workers)
    print(f"two RQ workers: {time.monotonic() - began:.1f} s")
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert (run.patients_created, run.therapists_created) == (PATIENTS, 20)
    assert set(run.chunks.values_list("state", flat=True)) == {RunChunk.State.DONE}
    assert len(chunk_workers(run.pk)) >= 2
    assert_run_invariants(run.pk)
