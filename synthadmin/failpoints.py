"""Test-only failpoints: make a crash or a signal happen at an exact place, deterministically.

``SYNTHADMIN_TEST_FAILPOINT=<name>`` in the environment makes ``failpoint(<name>)`` kill the
process with SIGKILL — what ``kill -9``, the OOM killer or a lost machine do — so tests can
prove what a crash at that point leaves behind and that purge finishes it.

``SYNTHADMIN_TEST_FAILPOINT=<name>:<SIGNAL>`` (``SIGINT``, ``SIGTERM``, ``SIGHUP``) sends the
process that signal instead, the first time ``<name>`` is reached, and waits there until the
stop event of the run (``watching``) is set — the signal handled — so the run goes on from
exactly that point, stopped: what Ctrl-C or ``docker stop`` at that moment does, without the race.

``SYNTHADMIN_TEST_FAILPOINT=<name>:pause`` holds the process at ``<name>`` instead, from the
first time it is reached (every thread that reaches it meanwhile waits too) until the run winds
down — an event ``watching`` names is set: the run's cancel flag seen (``run_watch.CancelWatch``,
a chunk's heartbeat), or a signal's stop — or ``PAUSE_WAIT_SECONDS`` pass (outside ``watching``,
the whole bound); then it goes on, and ``<name>`` holds nobody again. A test holds a run in
progress at a batch boundary, purges or cancels it, and the run stops exactly there: no big run,
and no luck needed to catch it running.

Unset (always, in production), ``failpoint`` does nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Protocol

ENV = "SYNTHADMIN_TEST_FAILPOINT"

# Creating a user (``services.user_creation``), in order.
#: The user's intent is recorded; its Auth call not started.
BEFORE_AUTH_CREATE = "before_auth_create"
#: The Auth call is under way (local backend: inside its transaction, before the insert).
AUTH_CREATE_IN_FLIGHT = "auth_create_in_flight"
#: After the Auth user exists (one user's, or every Auth user of a batch), before any database
#: row of it is written.
AFTER_AUTH_CREATE = "after_auth_create"
#: The user's rows are being written: inside their transaction, the profile written, the
#: check-ins not yet (``services.writer``).
ROWS_WRITE = "rows_write"

# Generation, at its batch boundaries (``services.user_creation``, ``services.writer``).
#: A batch's intent records are committed; no Auth user of it exists yet.
GENERATE_BATCH_INTENTS = "generate_batch_intents"
#: (Then ``AFTER_AUTH_CREATE``: the batch's Auth users exist, none of their rows is written.)
#: A batch's profiles and check-ins are written, inside its transaction, before its commit.
GENERATE_BATCH_COPIED = "generate_batch_copied"
#: A batch is committed (rows and ledger); the next not started.
GENERATE_AFTER_BATCH = "generate_after_batch"

# Purge, at its batch boundaries (``services.purge``).
#: Who is deleted is decided (intents resolved in the ledger), before the first batch's deletes.
PURGE_BEFORE_DELETES = "purge_before_deletes"
#: A batch's Auth users are deleted; its ledger entries not yet marked (local backend: inside the
#: batch's transaction, before its commit; Supabase: after the batch's Auth calls).
PURGE_BATCH_AUTH_DELETED = "purge_batch_auth_deleted"
#: A batch is deleted and marked (committed); the next not started.
PURGE_AFTER_BATCH = "purge_after_batch"
#: Removing an "Add check-in days" run's check-ins: a batch's check-ins deleted, inside its
#: transaction (``services.additions_purge``).
PURGE_ADDITIONS_BATCH = "purge_additions_batch"

# Adding days (``services.backfill``, ``services.extend_today``), at their batch boundaries.
#: A batch's check-ins are copied, inside its transaction, before its ledger counts and records.
ADDITIONS_BATCH_COPIED = "additions_batch_copied"
#: A batch is committed; the next not started.
ADDITIONS_AFTER_BATCH = "additions_after_batch"

# Commands (``manage.py``, ``export_synthetic``).
#: ``manage.py`` has installed its signal handlers; Django not yet imported, no command started.
MANAGE_STARTING = "manage_starting"
#: An export to ``--output`` wrote a block to its hidden partial file; the next not read.
EXPORT_AFTER_BLOCK = "export_after_block"

#: How long a signal failpoint waits for the stop it asked for (then it goes on regardless).
SIGNAL_WAIT_SECONDS = 10.0
#: How long a pause failpoint holds the run at most when nothing winds it down.
PAUSE_WAIT_SECONDS = 60.0
#: The suffix that makes a failpoint a pause.
PAUSE = "pause"


class Settable(Protocol):
    """An event a failpoint waits for (``threading.Event``, ``threads.WindDown``)."""

    def is_set(self) -> bool: ...


_watched: contextvars.ContextVar[tuple[Settable, ...]] = contextvars.ContextVar(
    "failpoint_watched", default=()
)
_fired: set[str] = set()
_paused_until: dict[str, float] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def watching(*events: Settable) -> Iterator[None]:
    """The events a signal or pause failpoint waits for (any of them set: the run stops or
    winds down), in this context and the threads started with a copy of it."""
    token = _watched.set(events)
    try:
        yield
    finally:
        _watched.reset(token)


def _wait(until: float) -> None:
    """Until a watched event is set, or ``until`` (monotonic) passes."""
    events = _watched.get()
    while not any(event.is_set() for event in events) and time.monotonic() < until:
        time.sleep(0.02)


def _pause(name: str) -> None:
    with _lock:
        if name in _fired:
            return
        until = _paused_until.setdefault(name, time.monotonic() + PAUSE_WAIT_SECONDS)
    _wait(until)
    with _lock:
        _fired.add(name)


def failpoint(name: str) -> None:
    armed = os.environ.get(ENV)
    if not armed:
        return
    point, _, signal_name = armed.partition(":")
    if point != name:
        return
    if not signal_name:
        os.kill(os.getpid(), signal.SIGKILL)
        return
    if signal_name == PAUSE:
        _pause(name)
        return
    with _lock:
        if name in _fired:
            return
        _fired.add(name)
    os.kill(os.getpid(), signal.Signals[signal_name])
    if _watched.get():
        _wait(time.monotonic() + SIGNAL_WAIT_SECONDS)
