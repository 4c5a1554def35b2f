"""RQ loses its queue: FLUSHDB after the run was enqueued, and a Redis restart (no persistence)
in the middle of a run. The run still ends succeeded with exact counts, no duplicate, no orphan;
the RQ workers outlive the restart (each says the outage in one line, no traceback); the run page
tells a Redis that does not answer, and a task Redis lost, from a missing worker. Each test runs
its own ``redis-server`` on an ephemeral port (the machine's Redis is never touched)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from synthadmin.models import RunChunk, SyntheticRun
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.progress import run_progress
from synthadmin.services.requests import GenerationRequest
from synthadmin.services.workers import worker_touch
from tests.background.conftest import assert_run_invariants, run_ended, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

STARTER = Starter("os:test")
OUTAGE_LINE = "does not answer (ConnectionError); the worker waits for it, retrying with backoff"


class RedisServer:
    """A ``redis-server`` of the test's own: no persistence, so a restart loses everything."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch, supabase_tables_cleanup) -> Iterator[RedisServer]:
    """A Redis for this test, and this process's runs enqueued on it (RQ backend)."""
    import django_rq.settings

    server = RedisServer(tmp_path)
    server.start()
    settings.TASKS = {"default": settings.TASK_BACKENDS["rq"]}
    settings.SYNTHADMIN_TASK_BACKEND = "rq"
    settings.SYNTHADMIN_WORKER_STALE_SECONDS = 3.0
    settings.SYNTHADMIN_REAPER_SECONDS = 0.3
    monkeypatch.setitem(
        django_rq.settings.QUEUES, settings.SYNTHADMIN_TASK_QUEUE, {"URL": server.url, "DEFAULT_TIMEOUT": -1}
    )
    yield server
    server.stop()


def _rq_env(server: RedisServer) -> dict[str, str]:
    return {"SYNTHADMIN_TASK_BACKEND": "rq", "REDIS_URL": server.url}


def _enqueue(settings, patients: int, therapists: int, chunk: int) -> SyntheticRun:
    settings.SYNTHADMIN_CHUNK_USERS = chunk
    return run_enqueue(
        request=GenerationRequest(patients=patients, therapists=therapists, checkin_days=5, seed=3),
        started_by=STARTER,
    )


def _succeeded(run: SyntheticRun, patients: int, therapists: int) -> None:
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED, run.error_summary
    assert (run.patients_created, run.therapists_created, run.users_failed) == (patients, therapists, 0)
    assert set(run.chunks.values_list("state", flat=True)) == {RunChunk.State.DONE}
    assert_run_invariants(run.pk)


def test_flushdb_after_enqueue_the_run_still_succeeds(own_redis, settings, workers):
    run = _enqueue(settings, patients=6, therapists=2, chunk=3)
    assert own_redis.client().llen("rq:queue:synthadmin") == 1
    own_redis.client().flushdb()
    workers.start(backend="rq", extra=_rq_env(own_redis))
    wait_until(run_ended(run.pk), timeout=120, what="the run after FLUSHDB", workers=workers)
    _succeeded(run, patients=6, therapists=2)
    (out, err), *_ = workers.stop_all()
    assert "1 chunk(s) enqueued again" in out and "Traceback" not in err


@pytest.mark.exclusive
def test_a_redis_restart_mid_run_the_workers_survive_and_the_run_succeeds(own_redis, settings, workers):
    run = _enqueue(settings, patients=240, therapists=4, chunk=12)
    processes = [workers.start(backend="rq", extra=_rq_env(own_redis)) for _ in range(2)]

    def mid_run() -> bool:
        chunks = run.chunks.filter(phase=RunChunk.Phase.PATIENTS)
        return chunks.filter(state=RunChunk.State.DONE).exists() and chunks.filter(state="queued").count() > 4

    wait_until(mid_run, timeout=120, what="the run to be half way", workers=workers)
    own_redis.stop()  # everything Redis held is gone; the chunks in hand go on in the database
    time.sleep(2)
    own_redis.start()
    wait_until(run_ended(run.pk), timeout=300, what="the run after the restart", workers=workers)
    _succeeded(run, patients=240, therapists=4)
    assert all(process.poll() is None for process in processes), "a worker died with Redis"
    outputs = workers.stop_all()
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0 and "Traceback" not in err, err
        assert err.count(OUTAGE_LINE) == 1, err  # one line for the one outage, none per retry
        assert f"Redis at redis://127.0.0.1:{own_redis.port}/0 {OUTAGE_LINE}" in err


def test_the_run_page_tells_which(own_redis, settings):
    run = _enqueue(settings, patients=2, therapists=0, chunk=2)
    assert run_progress(run).message.startswith("queued — no worker has picked it up")
    worker_touch(backend="rq")  # a live worker
    assert run_progress(run).message == "queued — waiting for a worker"
    own_redis.client().flushdb()
    assert run_progress(run).message.startswith(
        f"queued — the task queue lost the task of users 0-1 (no job {run.chunks.get().task_id} in Redis at "
    )
    own_redis.stop()
    assert run_progress(run).message == (
        f"queued — Redis at redis://127.0.0.1:{own_redis.port}/0 does not answer; the workers wait for it "
        "and go on when it is back"
    )
