"""The batches of a run through an Auth service that makes one user per call, on one pool of
calls that never waits at a batch boundary.

A batch is, in this order: its intents committed (one round trip), one Auth call per user, then
its rows in one transaction. Run as whole batches — even two side by side — the Auth workers
sit idle while a batch's intents commit, while the slowest calls of its last wave end and while
its rows are written (measured: 0.7 s of a 12 s, 300-user run through Auth at 100 ms with the
database at 40 ms, the two batches' calls ending together and their rows written together).
Here the three steps are three stages, each always busy:

* the **calling thread** commits the intents of the next batch while the calls of the batches
  before it run, and queues the batch's calls only once its intents are committed — an Auth
  user never exists without its intent. It stays one batch ahead: the next batch is committed
  once fewer calls wait in the queue than that batch holds;
* ``workers`` threads take the calls from that one queue, batch after batch, so every slot of
  the flow controller stays busy across batch boundaries;
* when the last call of a batch has ended, the **rows thread** writes the batch's rows (one
  transaction) while the workers go on with the next batch's calls.

The outcomes of each batch are handed to ``on_result`` in the calling thread, as
``threads.pool_run`` does. A stop (``stop`` set, or Ctrl-C in the calling thread, which sets it)
commits no further batch; the batches already committed still go through every stage: their
calls are not sent (the caller's ``call`` sees the stop) or end, and their rows are written, so
that nothing is left half-made. An exception escaping a stage sets ``stop`` and is re-raised
here once everything in flight has ended.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import connections

from synthadmin.db.budget import connection_release_if_wanted

logger = logging.getLogger(__name__)

J = TypeVar("J")  # a batch's jobs, as the caller knows them
C = TypeVar("C")  # one Auth call's work item
R = TypeVar("R")  # what a batch comes to (its outcomes)

#: How often the calling thread looks whether the next batch is due, while one waits.
_FEED_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class BatchSteps(Generic[J, C, R]):
    """What the caller does at each stage of a batch.

    ``prepare(jobs)``: the batch's calls, nothing written (None: the run is winding down, the
    batch is not started); ``commit(calls)``: record their intents (calling thread);
    ``call(item)``: one Auth call (a worker; it must send nothing once ``stop`` is set);
    ``finish(jobs, calls)``: the batch's rows, after its last call ended (rows thread), and what
    the batch came to; ``skip(jobs)``: what a batch that was never started comes to.
    """

    prepare: Callable[[J], list[C] | None]
    commit: Callable[[list[C]], None]
    call: Callable[[C], None]
    finish: Callable[[J, list[C]], R]
    skip: Callable[[J], R]


@dataclass
class _Batch(Generic[J, C]):
    jobs: J
    calls: list[C]
    waiting: int  # calls not ended yet


class _Stages(Generic[J, C, R]):
    """The queues and counters the three stages share."""

    def __init__(self, steps: BatchSteps[J, C, R], stop: threading.Event) -> None:
        self.steps = steps
        self.stop = stop
        self.calls: queue.Queue[tuple[_Batch[J, C], C] | None] = queue.Queue()
        self.finished: queue.Queue[_Batch[J, C] | None] = queue.Queue()
        self.results: queue.Queue[tuple[_Batch[J, C], R | None, BaseException | None]] = queue.Queue()
        self.lock = threading.Lock()
        self.queued = 0  # calls in the queue, not taken by a worker yet
        self.workers_left = 0
        self.error: BaseException | None = None

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            self.error = self.error or exc
        self.stop.set()

    def enqueue(self, batch: _Batch[J, C]) -> None:
        with self.lock:
            self.queued += len(batch.calls)
        for item in batch.calls:
            self.calls.put((batch, item))
        if not batch.calls:
            self.finished.put(batch)

    def worker(self) -> None:
        try:
            while (taken := self.calls.get()) is not None:
                batch, item = taken
                with self.lock:
                    self.queued -= 1
                try:
                    self.steps.call(item)
                except BaseException as exc:  # re-raised by the calling thread at the end
                    self.failed(exc)
                finally:
                    # A worker's database use is the rare one (a failure recorded, a collision's
                    # retry): it gives its connection back at once, never holding a slot while
                    # it waits for the next call — the rows thread may need that slot (a run
                    # stopped by Auth waited out the budget's 60 s here, each worker idle with one).
                    connection_release_if_wanted(crowded=True)
                with self.lock:
                    batch.waiting -= 1
                    last = batch.waiting == 0
                if last:
                    self.finished.put(batch)
        finally:
            connections.close_all()  # each thread has its own Django connection
            with self.lock:
                self.workers_left -= 1
                everyone_done = self.workers_left == 0
            if everyone_done:
                self.finished.put(None)

    def rows(self) -> None:
        try:
            while (batch := self.finished.get()) is not None:
                try:
                    result = self.steps.finish(batch.jobs, batch.calls)
                except BaseException as exc:
                    self.failed(exc)
                    self.results.put((batch, None, exc))
                    continue
                self.results.put((batch, result, None))
                try:
                    connection_release_if_wanted()
                except BaseException as exc:
                    self.failed(exc)
        finally:
            connections.close_all()


def auth_batches_run(
    batches: Sequence[J],
    steps: BatchSteps[J, C, R],
    *,
    workers: int,
    stop: threading.Event,
    on_result: Callable[[J, R], None],
) -> bool:
    """Every batch through its three stages (module docstring); True if Ctrl-C was pressed.

    ``on_result(jobs, result)`` is called in this thread, once per batch (a batch whose
    ``finish`` raised is not handed over). ``workers``: the threads that make Auth calls (they
    use no database connection but for a user's retries after a collision)."""
    if not batches:
        return False
    stages: _Stages[J, C, R] = _Stages(steps, stop)
    stages.workers_left = max(workers, 1)
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run, args=(target,), name=f"synthadmin-{name}", daemon=True
        )
        for target, name in [
            *[(stages.worker, f"auth-{n}") for n in range(stages.workers_left)],
            (stages.rows, "rows"),
        ]
    ]
    for thread in threads:
        thread.start()
    try:
        interrupted = _drive(stages, batches, threads, on_result)
    except BaseException:  # on_result raised: stop, and still wait for what is in flight
        stop.set()
        raise
    finally:
        for _ in range(stages.workers_left):  # the workers end once the queue is drained
            stages.calls.put(None)
        for thread in threads:
            thread.join()
    if stages.error is not None:
        raise stages.error
    return interrupted


def _drive(
    stages: _Stages[J, C, R],
    batches: Sequence[J],
    threads: list[threading.Thread],
    on_result: Callable[[J, R], None],
) -> bool:
    """The calling thread's part: feed the batches one ahead, hand their results over; True if
    Ctrl-C was pressed. Returns once every batch was handed over (or nothing is left running)."""
    stop, steps = stages.stop, stages.steps
    interrupted = False
    fed = received = 0
    while received < len(batches):
        try:
            if fed < len(batches) and stop.is_set():
                for jobs in batches[fed:]:  # never started: a stop came first
                    fed += 1
                    received += 1
                    on_result(jobs, steps.skip(jobs))
                continue
            if fed < len(batches) and stages.queued < _size(batches[fed]):
                jobs = batches[fed]
                started, stopped = _feed(stages, jobs)
                fed += 1
                interrupted = interrupted or stopped
                if not started:
                    received += 1
                    on_result(jobs, steps.skip(jobs))
                continue
            try:
                batch, result, exc = stages.results.get(timeout=_FEED_POLL_SECONDS)
            except queue.Empty:
                if not any(thread.is_alive() for thread in threads[:-1]):  # no worker left
                    stop.set()  # (each ends only when told, or on a bug): start nothing more
                    if not threads[-1].is_alive() and stages.results.empty():
                        break
                continue
            received += 1
            if exc is None:
                on_result(batch.jobs, result)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            logger.warning("interrupted: finishing what is in flight, starting nothing new")
            interrupted = True
            stop.set()
    return interrupted


def _size(jobs: object) -> int:
    return len(jobs) if isinstance(jobs, Sequence) else 1


def _feed(stages: _Stages[J, C, R], jobs: J) -> tuple[bool, bool]:
    """Commit one batch's intents, then queue its calls: (started, Ctrl-C pressed meanwhile);
    not started when the run winds down.

    Whatever stops the commit part way (Ctrl-C, a lost database), the calls are still queued,
    after ``stop`` is set: none of them is sent, and the batch's ``finish`` records that —
    whether or not its intents reached the database."""
    calls = stages.steps.prepare(jobs)
    if calls is None:
        return False, False
    batch = _Batch(jobs, calls, waiting=len(calls))
    interrupted = False
    try:
        stages.steps.commit(calls)
    except KeyboardInterrupt:
        logger.warning("interrupted: finishing what is in flight, starting nothing new")
        interrupted = True
        stages.stop.set()
    except BaseException as exc:
        stages.failed(exc)
    finally:
        stages.enqueue(batch)
    return True, interrupted


__all__ = ["BatchSteps", "auth_batches_run"]
