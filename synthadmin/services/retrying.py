"""The retry policy for transient Auth failures, declared once (tenacity).

Transient means ``AuthUnavailableError``: the request never reached the service, a 429
(``AuthRateLimitedError``), or an outcome a lookup could not settle (``AuthAmbiguousError``,
safe to retry because a retried create recognises its own user). Random exponential backoff,
never shorter than the ``Retry-After`` a 429 asked for, bounded in attempts and in total time,
logged before each sleep, the last error re-raised. 429s do not use up the attempts (only
the time limit bounds them). Identity collisions are a different retry
(a fresh e-mail or id, in ``generation``); rejected keys, database refusals, blocked deletes
and cancellations are never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from synthadmin.exceptions import AuthRateLimitedError, AuthUnavailableError

logger = logging.getLogger("synthadmin.retry")

#: After this many users in a row failed for the same service-level reason (Auth unavailable,
#: or Auth's database refusing every row), a run or a purge stops: every further user would
#: fail alike, each after its own retries.
STREAK_LIMIT = 3


class wait_retry_after(wait_base):
    """Wait as ``fallback`` does, but never less than the ``retry_after`` seconds the last
    error carries (``AuthRateLimitedError`` from a 429 with ``Retry-After``)."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        waited = self.fallback(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = getattr(error, "retry_after", None)
        return max(waited, float(retry_after)) if retry_after else waited


class stop_after_failures(stop_base):
    """Stop after ``attempts`` failed attempts, not counting 429s: a rate limit is the server
    saying when to come back, not the call failing (those waits are bounded by the time
    limit, ``stop_after_delay``, instead)."""

    _KEY = "_synthadmin_failures"

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: RetryCallState) -> bool:
        seen, failures = getattr(retry_state, self._KEY, (0, 0))
        if retry_state.attempt_number > seen:  # count each attempt once
            outcome = retry_state.outcome
            error = outcome.exception() if outcome is not None and outcome.failed else None
            if not isinstance(error, AuthRateLimitedError):
                failures += 1
            setattr(retry_state, self._KEY, (retry_state.attempt_number, failures))
        return failures >= self.attempts


def transient_retrying(
    *,
    on_retry: Callable[[RetryCallState], None] | None = None,
    attempts: int | None = None,
    log_level: int = logging.WARNING,
) -> Retrying:
    """A ``Retrying`` for one Auth call; ``on_retry`` runs (e.g. to count) before each sleep;
    ``attempts`` caps the attempts below ``SYNTHADMIN_AUTH_RETRY_ATTEMPTS`` (never above it);
    ``log_level``: of the line logged before each sleep."""
    log = before_sleep_log(logger, log_level)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state)
        log(state)

    return Retrying(
        retry=retry_if_exception_type(AuthUnavailableError),
        wait=wait_retry_after(
            wait_random_exponential(
                multiplier=settings.SYNTHADMIN_AUTH_RETRY_BASE_SECONDS,
                max=settings.SYNTHADMIN_AUTH_RETRY_MAX_WAIT,
            )
        ),
        stop=stop_after_failures(
            min(attempts, settings.SYNTHADMIN_AUTH_RETRY_ATTEMPTS)
            if attempts is not None
            else settings.SYNTHADMIN_AUTH_RETRY_ATTEMPTS
        )
        | stop_after_delay(settings.SYNTHADMIN_AUTH_RETRY_MAX_SECONDS),
        before_sleep=before_sleep,
        reraise=True,
    )
