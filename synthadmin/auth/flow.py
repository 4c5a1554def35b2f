"""One flow controller for all Auth calls of a process: a shared pause on 429, and AIMD.

The Auth service (or the gateway in front of it) is a shared, congestible resource, and the
worker threads of a run or a purge are its senders. The controller is TCP congestion control
(RFC 5681) applied to calls instead of segments — a window of calls in flight, ``limit``:

* **slow start** (RFC 5681 §3.1): the window starts at ``initial`` (1) and grows by one call
  per successful call while below ``ssthresh``, i.e. it doubles every round trip;
* **congestion avoidance** — additive increase: above ``ssthresh`` it grows by ``1/limit``
  per successful call, one call per round trip (RFC 5681 eq. 3);
* **multiplicative decrease** on a congestion signal (a 429, a timeout, a 502/503/504 or a
  dropped answer): ``ssthresh = limit * beta`` (beta = 1/2, RFC 5681 eq. 4) and the window
  drops to it — at most once per window of calls: a signal from a call that started before
  the last decrease does not decrease again (the recovery rule of RFC 6582 §3.2);
* **a 429 with ``Retry-After``** is the server saying "stop": like a retransmission timeout,
  the window restarts at one call (RFC 5681 §3.1, "loss window") and **no call starts, from
  any thread, before ``Retry-After`` has passed** (RFC 9110 §10.2.3);
* the window only grows while it is in use — at least half of it in flight when a call ends
  (the validation rule of RFC 7661 §4.3), so an idle phase does not inflate it — and not on
  the calls of a window that was already cut (they were sent at the old rate).

The window stays between 1 and ``max_concurrency`` (``--concurrency``). One controller per
process: several worker processes each have their own (they then share the server's capacity
without knowing of each other; each still reacts to the 429s it receives).

    flow = FlowController(max_concurrency=8)
    with flow.permit(cancel=stop):          # waits for a free slot and for any Retry-After
        gateway.create_user(user)           # the outcome (exception type) is the signal
    flow.stats()                             # rate_limited, limit, settled_limit, ...
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from synthadmin.exceptions import (
    AuthAmbiguousError,
    AuthCancelledError,
    AuthGatewayError,
    AuthRateLimitedError,
    AuthUnavailableError,
)

T = TypeVar("T")


class Cancellation(Protocol):
    """What stops a wait: a ``threading.Event``, or anything else that can say it is set."""

    def is_set(self) -> bool: ...


#: RFC 5681 eq. 4: ssthresh = FlightSize / 2.
DEFAULT_BETA = 0.5
#: Weight of each finished call in the moving average reported as the settled concurrency.
_SETTLED_WEIGHT = 0.05

OK = "ok"
RATE_LIMITED = "rate_limited"
CONGESTED = "congested"
NEUTRAL = "neutral"


def flow_signal(error: BaseException | None) -> str:
    """What the outcome of one Auth call says about congestion.

    ``ok``: answered (success, or an answer such as a collision or a refusal, which a busy
    server would not have given); ``rate_limited``: 429; ``congested``: no trustworthy answer
    after the request was sent (timeouts, 502/503/504, dropped connections); ``neutral``: the
    request never reached the server, or the call was cancelled.
    """
    if error is None:
        return OK
    if isinstance(error, AuthRateLimitedError):
        return RATE_LIMITED
    if isinstance(error, AuthAmbiguousError):
        return CONGESTED
    if isinstance(error, AuthUnavailableError | AuthCancelledError):
        return NEUTRAL
    if isinstance(error, AuthGatewayError):
        return OK
    return NEUTRAL


@dataclass(frozen=True)
class FlowStats:
    """Counters of a flow controller, for the run report."""

    max_concurrency: int
    limit: float
    """The current window (calls allowed in flight)."""
    settled_limit: float
    """A moving average of the window over the calls that ended: the concurrency it settled on."""
    rate_limited: int
    """Calls answered 429."""
    congested: int
    """Calls that ended with a congestion signal other than 429."""
    decreases: int
    calls: int
    peak_in_flight: int
    paused_seconds: float
    """Time during which Retry-After kept every call from starting."""


@dataclass
class Permit:
    """One call's slot. ``epoch`` is the number of decreases when it started."""

    epoch: int
    started: float
    released: bool = False


class FlowController:
    """Admission control for every Auth call of a process; thread-safe, shared by all workers."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        initial: int = 1,
        beta: float = DEFAULT_BETA,
        clock: Callable[[], float] = time.monotonic,
        service: str = "the Auth backend",
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if not 0 < beta < 1:
            raise ValueError("beta must be between 0 and 1")
        self.max_concurrency = max_concurrency
        #: What the calls go to, as a refusal names it (``auth.gateway_service``).
        self.service = service
        self._beta = beta
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = float(min(max(initial, 1), max_concurrency))
        self._ssthresh = float(max_concurrency)
        self._in_flight = 0
        self._resume_at = 0.0
        self._epoch = 0
        self._settled: float | None = None
        self._rate_limited = 0
        self._congested = 0
        self._calls = 0
        self._peak = 0
        self._paused = 0.0
        self._paused_until = 0.0

    # --- the two calls a worker makes ---------------------------------------------------
    def acquire(self, *, cancel: Cancellation | None = None) -> Permit:
        """Wait until a call may start: a free slot in the window and no Retry-After pending.

        Raises AuthCancelledError (nothing sent) when ``cancel`` is set while waiting.
        """
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise AuthCancelledError(
                        f"stopped while waiting to call {self.service}", user_may_exist=False
                    )
                now = self._clock()
                pause = self._resume_at - now
                if pause <= 0 and self._in_flight < math.floor(self._limit):
                    break
                # Re-check a stop event at least twice a second.
                self._cond.wait(timeout=min(pause, 0.5) if pause > 0 else 0.5)
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            return Permit(epoch=self._epoch, started=now)

    def release(self, permit: Permit, error: BaseException | None = None) -> None:
        """End a call; ``error`` is what it raised (None: success). Adjusts the window."""
        signal = flow_signal(error)
        with self._cond:
            if permit.released:
                return
            permit.released = True
            in_use = self._in_flight
            self._in_flight -= 1
            self._calls += 1
            now = self._clock()
            if signal == OK:
                # Grow only a window that is used (RFC 7661), and not on calls that started
                # before the last decrease (in recovery, RFC 6582: they belong to the old window).
                if in_use * 2 >= self._limit and permit.epoch == self._epoch:
                    step = 1.0 if self._limit < self._ssthresh else 1.0 / self._limit
                    self._limit = min(self._limit + step, float(self.max_concurrency))
            elif signal == RATE_LIMITED:
                self._rate_limited += 1
                retry_after = getattr(error, "retry_after", None)
                if retry_after:
                    resume = now + float(retry_after)
                    if resume > self._resume_at:
                        self._paused += resume - max(now, self._paused_until)
                        self._paused_until = resume
                        self._resume_at = resume
                self._decrease(permit, restart=bool(retry_after))
            elif signal == CONGESTED:
                self._congested += 1
                self._decrease(permit, restart=False)
            self._settled = (
                self._limit
                if self._settled is None
                else (1 - _SETTLED_WEIGHT) * self._settled + _SETTLED_WEIGHT * self._limit
            )
            self._cond.notify_all()

    def _decrease(self, permit: Permit, *, restart: bool) -> None:
        if permit.epoch != self._epoch:
            return  # this window was already cut once (RFC 6582 §3.2)
        self._epoch += 1
        self._ssthresh = max(self._limit * self._beta, 1.0)
        self._limit = 1.0 if restart else self._ssthresh

    # --- conveniences -------------------------------------------------------------------
    @contextmanager
    def permit(self, *, cancel: Cancellation | None = None) -> Iterator[Permit]:
        """``with flow.permit(): gateway.call(...)`` — the exception raised inside is the signal."""
        permit = self.acquire(cancel=cancel)
        try:
            yield permit
        except BaseException as exc:
            self.release(permit, exc)
            raise
        self.release(permit, None)

    def call(self, fn: Callable[..., T], *args: Any, cancel: Cancellation | None = None) -> T:
        """``fn(*args)`` inside a permit."""
        with self.permit(cancel=cancel):
            return fn(*args)

    def stats(self) -> FlowStats:
        with self._cond:
            return FlowStats(
                max_concurrency=self.max_concurrency,
                limit=round(self._limit, 2),
                settled_limit=round(self._settled if self._settled is not None else self._limit, 2),
                rate_limited=self._rate_limited,
                congested=self._congested,
                decreases=self._epoch,
                calls=self._calls,
                peak_in_flight=self._peak,
                paused_seconds=round(self._paused, 3),
            )

    @property
    def limit(self) -> int:
        """Calls allowed in flight right now."""
        with self._cond:
            return math.floor(self._limit)

    def resume_at(self) -> float:
        """The clock value before which no call may start (0 or past: none pending)."""
        with self._cond:
            return self._resume_at
