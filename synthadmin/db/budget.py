"""At most ``SYNTHADMIN_DB_CONNECTIONS`` database connections per process, whatever its threads.

Supabase's session pooler caps every client together (a pool size of 15 is common): a process
that opened one connection per worker thread, and one more for each check, would take the
app's own share. So every connection synthadmin's backend opens takes a slot first
(``slot_take``), and gives it back when it closes (``slot_give``). A thread that finds none free
waits for one, at most ``WAIT_SECONDS``, then gets :class:`ConnectionBudgetError` (one line, no
hang). Those who hold a connection let it go at their natural ends when someone waits
(``connection_release_if_wanted``: after a request in the web process, after a job in a worker
pool), and a worker pool starts no more threads than there are slots (``slots_free``).
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

#: How long a thread waits for a free connection before it gives up.
WAIT_SECONDS = 60.0


class ConnectionBudgetError(RuntimeError):
    """No connection came free within ``WAIT_SECONDS``: the process's budget is taken."""


class _Slots:
    def __init__(self) -> None:
        self._free = threading.Condition()
        self.open = 0
        self.waiting = 0
        self.peak = 0

    def take(self, limit: int, wait: float) -> None:
        deadline = time.monotonic() + wait
        with self._free:
            self.waiting += 1
            try:
                while self.open >= limit:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._free.wait(left):
                        raise ConnectionBudgetError(
                            f"no database connection came free within {wait:g} s: this process "
                            f"already has {self.open} open (SYNTHADMIN_DB_CONNECTIONS={limit})"
                        )
            finally:
                self.waiting -= 1
            self.open += 1
            self.peak = max(self.peak, self.open)

    def give(self) -> None:
        with self._free:
            self.open = max(self.open - 1, 0)
            self._free.notify()


_slots = _Slots()


def connections_limit() -> int:
    return int(settings.SYNTHADMIN_DB_CONNECTIONS)


def slot_take() -> None:
    """Take a connection slot (wait for one); ConnectionBudgetError after ``WAIT_SECONDS``."""
    _slots.take(connections_limit(), WAIT_SECONDS)


def slot_give() -> None:
    _slots.give()


def connections_open() -> int:
    """Connections this process holds now."""
    return _slots.open


def connections_peak() -> int:
    """The most connections this process held at once."""
    return _slots.peak


def slots_free() -> int:
    """Slots nobody holds now (what a pool of threads that each connect may use)."""
    return max(connections_limit() - _slots.open, 0)


def connection_release_if_wanted(*, crowded: bool = False, alias: str = DEFAULT_DB_ALIAS) -> None:
    """Close this thread's connection (outside a transaction) when another thread waits for a
    slot; with ``crowded``, also when half the budget or more is open (a web thread between
    requests keeps a connection only while the other half is left for a request that comes in
    and for a small run it starts inline, whose threads each need one)."""
    wanted = _slots.waiting > 0 or (crowded and _slots.open >= max(connections_limit() // 2, 1))
    if not wanted:
        return
    wrapper = connections[alias]
    if wrapper.connection is not None and not wrapper.in_atomic_block:
        wrapper.close()
