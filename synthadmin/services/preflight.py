"""Before a write path touches anything: can the Auth service be used as configured?

``auth_preflight`` runs the gateway's ``preflight`` (for Supabase: one authenticated lookup of
a fresh uuid4, ``GET /admin/users/{id}``, whose 404 ``user_not_found`` proves the URL is
Supabase Auth and the key is accepted) under the transient retry policy, and turns whatever
it found into one ``ConfigurationError`` line. ``population_generate``, ``run_enqueue`` and
``synthetic_users_purge`` call it before their first write, so an unreachable Supabase, a wrong or
anon key, or a URL that is not Supabase Auth changes nothing (exit 1 in the commands, a form
error in the admin). A loss of Auth after it passed is a run's own diagnosis, as before.
"""

from __future__ import annotations

import logging
import threading

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.exceptions import AuthCancelledError, AuthGatewayError, ConfigurationError
from synthadmin.services.retrying import transient_retrying

#: At most this many attempts at the preflight when Auth is unavailable (or a lower
#: ``SYNTHADMIN_AUTH_RETRY_ATTEMPTS``): a blip of a restarting service is ridden out, a service
#: that is down is reported within a few seconds rather than after a run's full retries.
PREFLIGHT_ATTEMPTS = 3


def auth_preflight(*, gateway: AuthGateway | None = None, cancel: threading.Event | None = None) -> None:
    """Check the Auth service before anything is written; return None when it can be used.

    ``gateway``: the caller's (not closed here), else the configured one (made and closed
    here, with ``cancel``). Writes nothing. Transient failures (not reached, 5xx, 429, the call
    deadline) are retried, at most ``PREFLIGHT_ATTEMPTS`` attempts, with the usual backoff.

    Raises ConfigurationError, one line naming the URL (never the key) and what to fix —
    ``SUPABASE_URL`` when Auth cannot be reached or the answer is not Supabase Auth's,
    ``SUPABASE_SERVICE_ROLE_KEY`` when the key is refused (401/403) — also when the gateway
    cannot be made at all; AuthCancelledError when ``cancel`` (or the gateway's stop event) ended
    the check.
    """
    with gateway_in_use(gateway, cancel=cancel) as auth:
        # A custom gateway class (SYNTHADMIN_AUTH_BACKEND as a dotted path) may predate the
        # preflight: it then has nothing to check.
        check = getattr(auth, "preflight", None)
        if check is None:
            return
        try:
            # Retries logged at INFO: the refusal is one line, the attempts are detail (-v / logs).
            transient_retrying(attempts=PREFLIGHT_ATTEMPTS, log_level=logging.INFO)(check)
        except AuthCancelledError:
            raise
        except AuthGatewayError as exc:
            raise ConfigurationError(exc.message) from exc


__all__ = ["PREFLIGHT_ATTEMPTS", "auth_preflight"]
