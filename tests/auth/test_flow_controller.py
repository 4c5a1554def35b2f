"""The flow controller (``synthadmin.auth.flow``): AIMD window, shared Retry-After pause, counters.

Unit tests with real threads, no server; the errors are the gateway's typed errors.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pytest
from tenacity import Retrying, stop_after_attempt, wait_fixed

from synthadmin.auth.flow import FlowController, flow_signal
from synthadmin.exceptions import (
    AuthAmbiguousError,
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthRateLimitedError,
    AuthUnavailableError,
    DuplicateEmailError,
)
from synthadmin.services.retrying import wait_retry_after


def succeed(flow: FlowController, times: int) -> None:
    for _ in range(times):
        flow.release(flow.acquire())


def test_signals_by_error_type():
    assert flow_signal(None) == "ok"
    assert flow_signal(DuplicateEmailError("x")) == "ok"  # an answer: the server is not congested
    assert flow_signal(AuthDatabaseRefusedError("x")) == "ok"
    assert flow_signal(AuthRateLimitedError("x", retry_after=1)) == "rate_limited"
    assert flow_signal(AuthAmbiguousError("x")) == "congested"
    assert flow_signal(AuthUnavailableError("x")) == "neutral"  # never reached the server
    assert flow_signal(AuthCancelledError("x")) == "neutral"


def test_slow_start_then_additive_increase_within_bounds():
    flow = FlowController(max_concurrency=8)
    assert flow.limit == 1
    # Slow start: +1 per call that used the window (one call at a time uses a window of 1 or 2).
    succeed(flow, 1)
    assert flow.limit == 2
    succeed(flow, 1)
    assert flow.limit == 3
    succeed(flow, 50)  # a single caller keeps it below twice what it uses (RFC 7661)
    assert flow.limit == 2 or flow.limit == 3
    permits = [flow.acquire() for _ in range(flow.limit)]
    for permit in permits:
        flow.release(permit)
    assert flow.limit <= 8


def test_multiplicative_decrease_once_per_window():
    flow = FlowController(max_concurrency=16, initial=16)
    permits = [flow.acquire() for _ in range(16)]
    assert flow.limit == 16
    for permit in permits[:4]:  # four 429s from calls of the same window: one decrease
        flow.release(permit, AuthRateLimitedError("x"))
    assert flow.limit == 8
    stats = flow.stats()
    assert stats.rate_limited == 4 and stats.decreases == 1
    for permit in permits[4:]:
        flow.release(permit)
    later = flow.acquire()
    flow.release(later, AuthAmbiguousError("timeout"))  # a new window: decreases again
    assert flow.limit == 4 and flow.stats().congested == 1


def test_additive_increase_above_ssthresh():
    flow = FlowController(max_concurrency=16, initial=8)
    first = [flow.acquire() for _ in range(8)]
    flow.release(first[0], AuthAmbiguousError("x"))  # ssthresh = 4, window 4
    for permit in first[1:]:
        flow.release(permit)
    assert flow.limit == 4
    # Keep the window full for three windows' worth of calls: about +1 per window, not +1 per call.
    in_flight = deque(flow.acquire() for _ in range(4))
    for _ in range(12):
        flow.release(in_flight.popleft())
        while len(in_flight) < flow.limit:
            in_flight.append(flow.acquire())
    assert 5 <= flow.limit <= 7
    while in_flight:
        flow.release(in_flight.popleft())


def test_the_window_bounds_calls_in_flight_across_threads():
    flow = FlowController(max_concurrency=3, initial=3)
    lock = threading.Lock()
    now = peak = 0

    def worker() -> None:
        nonlocal now, peak
        for _ in range(10):
            with flow.permit():
                with lock:
                    now += 1
                    peak = max(peak, now)
                time.sleep(0.002)
                with lock:
                    now -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 3 and flow.stats().peak_in_flight == 3 and flow.stats().calls == 80


@pytest.mark.exclusive
def test_retry_after_holds_every_thread():
    flow = FlowController(max_concurrency=8, initial=8)
    started: list[float] = []
    lock = threading.Lock()
    limited = flow.acquire()
    gate = threading.Barrier(7)

    def worker() -> None:
        gate.wait()
        with flow.permit():
            with lock:
                started.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    # The 429 is answered no later than this: the pause runs from inside release(), so a clock
    # read after it would credit the pause with the time release() itself took.
    answered = time.monotonic()
    flow.release(limited, AuthRateLimitedError("429", retry_after=0.4))
    gate.wait()
    for thread in threads:
        thread.join()
    assert len(started) == 6
    assert min(started) - answered >= 0.4  # no call left before Retry-After, from any thread
    stats = flow.stats()
    assert stats.rate_limited == 1 and 0.39 <= stats.paused_seconds <= 0.41
    assert stats.limit >= 1  # restarted at one call, then grew again


def test_a_429_with_retry_after_restarts_at_one_call():
    flow = FlowController(max_concurrency=8, initial=8)
    permit = flow.acquire()
    flow.release(permit, AuthRateLimitedError("429", retry_after=0.01))
    assert flow.limit == 1
    time.sleep(0.02)
    succeed(flow, 1)
    assert flow.limit == 2  # slow start again, up to ssthresh = 4


@pytest.mark.exclusive
def test_waiting_can_be_cancelled():
    flow = FlowController(max_concurrency=1)
    held = flow.acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(AuthCancelledError) as caught:
        flow.acquire(cancel=stop)
    assert time.monotonic() - started < 1.0
    assert caught.value.user_may_exist is False
    flow.release(held)


def test_settled_limit_follows_the_window():
    flow = FlowController(max_concurrency=4, initial=4)
    for _ in range(200):
        permits = [flow.acquire() for _ in range(4)]
        for permit in permits:
            flow.release(permit)
    assert flow.stats().settled_limit == pytest.approx(4, abs=0.05)


def test_tenacity_wait_honours_retry_after():
    slept: list[float] = []
    calls = iter([AuthRateLimitedError("429", retry_after=0.3), AuthRateLimitedError("429"), None])

    def call() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "done"

    retrying = Retrying(
        wait=wait_retry_after(wait_fixed(0.01)), stop=stop_after_attempt(5), sleep=slept.append, reraise=True
    )
    assert retrying(call) == "done"
    assert slept == [0.3, 0.01]  # Retry-After when given, the fallback otherwise
