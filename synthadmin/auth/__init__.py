"""Auth gateways: create and delete Supabase Auth users, through the API or locally.

``get_gateway()`` returns the implementation chosen by ``SYNTHADMIN_AUTH_BACKEND``; both raise
the same typed errors (``synthadmin.exceptions``) for the same conditions.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.conf import settings

from synthadmin.auth.base import AuthGateway, AuthUserInfo, NewAuthUser
from synthadmin.exceptions import ConfigurationError

__all__ = ["AuthGateway", "AuthUserInfo", "NewAuthUser", "gateway_in_use", "get_gateway"]


def get_gateway(backend: str | None = None, *, cancel: threading.Event | None = None) -> AuthGateway:
    """The configured gateway. Raises ConfigurationError when it cannot work as configured.

    ``cancel``: when set (Ctrl-C, SIGTERM), calls in flight end within a second or two with
    ``AuthCancelledError``. Each call is bounded by ``SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS``.
    """
    backend = (backend or settings.SYNTHADMIN_AUTH_BACKEND).lower()
    if backend == "local":
        from synthadmin.auth.local import LocalAuthGateway

        return LocalAuthGateway(
            rounds=settings.SYNTHADMIN_LOCAL_BCRYPT_ROUNDS,
            deadline_seconds=settings.SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS,
            cancel=cancel,
        )
    if backend == "supabase":
        from synthadmin.auth.supabase import SupabaseAuthGateway

        if not settings.SUPABASE_URL:
            raise ConfigurationError(
                "SYNTHADMIN_AUTH_BACKEND is 'supabase' but SUPABASE_URL is not set: set it to "
                "https://<project-ref>.supabase.co, or use SYNTHADMIN_AUTH_BACKEND=local"
            )
        if not settings.SUPABASE_SERVICE_ROLE_KEY:
            raise ConfigurationError(
                "SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not: set it to the project's "
                "service-role key (Project Settings → API), or use SYNTHADMIN_AUTH_BACKEND=local"
            )
        return SupabaseAuthGateway(
            url=settings.SUPABASE_URL,
            key=settings.SUPABASE_SERVICE_ROLE_KEY,
            deadline_seconds=settings.SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS,
            cancel=cancel,
        )
    raise ConfigurationError(f"unknown auth backend {backend!r}; use 'supabase' or 'local'")


@contextlib.contextmanager
def gateway_in_use(
    gateway: AuthGateway | None, *, cancel: threading.Event | None = None
) -> Iterator[AuthGateway]:
    """``gateway`` as given (the caller closes it), or the configured one, closed on exit."""
    if gateway is not None:
        yield gateway
        return
    with get_gateway(cancel=cancel) as own:
        yield own
