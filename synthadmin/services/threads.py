"""A small bounded worker pool for Auth calls, with a clean stop on Ctrl-C.

Results are handed to ``on_result`` in the calling thread, so counters and progress bars need
no locks. Ctrl-C in the calling thread sets ``stop``: jobs are expected to check it before they
start anything, and the pool waits for the jobs in flight to end before it returns — that wait
is what keeps a half-created user from being abandoned.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import connections

from synthadmin.db.budget import connection_release_if_wanted, slots_free

logger = logging.getLogger(__name__)


class WindDown:
    """Start no new user; the Auth calls in flight end on their own. Set by a diagnosis or by a
    background run's cancel; also set, in effect, whenever ``stop`` is (which ends calls in
    flight as well). The flow controller asks it ``is_set()`` before each call."""

    def __init__(self, stop: threading.Event, event: threading.Event | None = None) -> None:
        self._stop = stop
        self._event = event or threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or self._stop.is_set()


T = TypeVar("T")
R = TypeVar("R")


def pool_run(
    items: Sequence[T],
    job: Callable[[T], R],
    *,
    workers: int,
    stop: threading.Event,
    on_result: Callable[[T, R], None],
    database: bool = True,
) -> bool:
    """Run ``job`` on every item with at most ``workers`` threads; True if Ctrl-C was pressed.

    ``database``: the jobs use the database, each thread its own connection, so no more threads
    start than the process's connection budget has free slots (``synthadmin.db.budget``; at
    least one), and a thread lets its connection go after a job when another one waits.

    An exception escaping a job stops the pool (``stop`` is set), and is re-raised here once
    the jobs in flight have ended.
    """
    if database:
        workers = min(workers, max(slots_free(), 1))
    work: queue.Queue[T] = queue.Queue()
    for item in items:
        work.put(item)
    results: queue.Queue[tuple[T, R | None, BaseException | None]] = queue.Queue()

    def worker() -> None:
        try:
            while True:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    results.put((item, job(item), None))
                except BaseException as exc:
                    results.put((item, None, exc))
                    return
                if database:
                    connection_release_if_wanted()
        finally:
            # Each thread has its own Django connection: close it with the thread.
            connections.close_all()

    # Each thread runs in a copy of this context: its log lines carry the run id (synthadmin.logs).
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run, args=(worker,), name=f"synthadmin-worker-{n}", daemon=True
        )
        for n in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    interrupted = False
    error: BaseException | None = None
    received = 0
    while received < len(items):
        try:
            try:
                item, result, exc = results.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and results.empty():
                    break
                continue
            received += 1
            if exc is not None:
                error = error or exc
                stop.set()
                continue
            on_result(item, result)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            logger.warning("interrupted: finishing what is in flight, starting nothing new")
            interrupted = True
            stop.set()
    for thread in threads:
        thread.join()
    if error is not None:
        raise error
    return interrupted
