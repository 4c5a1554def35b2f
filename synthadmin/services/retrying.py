"""The retry policy for transient Auth failures, declared once (tenacity).

Transient means ``AuthUnavailableError``: connection errors and timeouts, 429, 5xx not explained
by a collision. Random exponential backoff, bounded in attempts and in total time, logged before
each sleep, the last error re-raised. Identity collisions are a different retry (a fresh e-mail
or id, in ``generation``); rejected keys and requests are never retried.
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
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from synthadmin.exceptions import AuthUnavailableError

logger = logging.getLogger("synthadmin.retry")


def transient_retrying(*, on_retry: Callable[[RetryCallState], None] | None = None) -> Retrying:
    """A ``Retrying`` for one Auth call; ``on_retry`` runs (e.g. to count) before each sleep."""
    log = before_sleep_log(logger, logging.WARNING)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state)
        log(state)

    return Retrying(
        retry=retry_if_exception_type(AuthUnavailableError),
        wait=wait_random_exponential(
            multiplier=settings.SYNTHADMIN_AUTH_RETRY_BASE_SECONDS,
            max=settings.SYNTHADMIN_AUTH_RETRY_MAX_WAIT,
        ),
        stop=stop_after_attempt(settings.SYNTHADMIN_AUTH_RETRY_ATTEMPTS)
        | stop_after_delay(settings.SYNTHADMIN_AUTH_RETRY_MAX_SECONDS),
        before_sleep=before_sleep,
        reraise=True,
    )
