"""``SYNTHADMIN_TEST_FAILPOINT=<name>:pause`` (test-only): the first thread to reach ``<name>``,
and every thread that reaches it meanwhile, waits there until an event ``watching`` names is set
(the run winds down) or the bound passes; after that, ``<name>`` holds nobody. Unarmed, or armed
for another point, it does nothing. No database: threads and events only."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from synthadmin import failpoints
from synthadmin.failpoints import ENV, GENERATE_AFTER_BATCH, PAUSE, failpoint, watching


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Each test starts with no pause fired (the module keeps them per process)."""
    monkeypatch.setattr(failpoints, "_fired", set())
    monkeypatch.setattr(failpoints, "_paused_until", {})


def _reach(name: str, passed: list[str], who: str) -> threading.Thread:
    """A thread (with this context: what ``watching`` set) that reaches ``name``, then notes it passed."""

    def reach() -> None:
        failpoint(name)
        passed.append(who)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(reach,), daemon=True)
    thread.start()
    return thread


def test_the_point_holds_every_thread_until_the_run_winds_down_then_nobody(monkeypatch):
    monkeypatch.setenv(ENV, f"{GENERATE_AFTER_BATCH}:{PAUSE}")
    wind_down = threading.Event()
    passed: list[str] = []
    with watching(threading.Event(), wind_down):
        first = _reach(GENERATE_AFTER_BATCH, passed, "first")
        time.sleep(0.2)
        second = _reach(GENERATE_AFTER_BATCH, passed, "second")  # reaches it while the first waits
        time.sleep(0.3)
        assert passed == [] and first.is_alive() and second.is_alive()
        failpoint("some_other_point")  # not armed: goes on at once

        wind_down.set()
        first.join(5)
        second.join(5)
        assert sorted(passed) == ["first", "second"]

    began = time.monotonic()
    failpoint(GENERATE_AFTER_BATCH)  # the pause is over: nobody is held again
    assert time.monotonic() - began < 0.1


def test_a_pause_nobody_ends_goes_on_after_its_bound(monkeypatch):
    monkeypatch.setenv(ENV, f"{GENERATE_AFTER_BATCH}:{PAUSE}")
    monkeypatch.setattr(failpoints, "PAUSE_WAIT_SECONDS", 0.3)
    began = time.monotonic()
    with watching(threading.Event()):
        failpoint(GENERATE_AFTER_BATCH)
    assert 0.3 <= time.monotonic() - began < 5


def test_unarmed_it_does_nothing(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    began = time.monotonic()
    with watching(threading.Event()):
        failpoint(GENERATE_AFTER_BATCH)
    assert time.monotonic() - began < 0.1
