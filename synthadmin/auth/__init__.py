"""Auth gateways: create and delete Supabase Auth users, through the API, locally or in memory.

``get_gateway()`` returns the implementation chosen by ``SYNTHADMIN_AUTH_BACKEND``; all raise
the same typed errors (``synthadmin.exceptions``) for the same conditions.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from django.conf import settings
from django.utils.module_loading import import_string

from synthadmin.auth.base import AuthGateway, AuthUserInfo, NewAuthUser
from synthadmin.exceptions import ConfigurationError

__all__ = ["AuthGateway", "AuthUserInfo", "NewAuthUser", "gateway_in_use", "gateway_service", "get_gateway"]

#: What each gateway's calls go to, in the words of a refusal ("stopped while waiting to call …").
_SERVICES = {
    "supabase": "Supabase Auth",
    "local": "the local Auth backend (the auth schema of this database)",
    "locmem": "the in-memory Auth backend",
}


def gateway_service(gateway: AuthGateway) -> str:
    """What ``gateway``'s calls go to, named for people: Supabase Auth only when it is."""
    name = str(getattr(gateway, "name", "") or "")
    return _SERVICES.get(name, f"the {name} Auth backend" if name else "the Auth backend")


#: The documented names of ``SYNTHADMIN_AUTH_BACKEND``; any other value is a dotted path to a
#: class with ``from_settings(*, cancel)`` (like Django's ``EMAIL_BACKEND``).
BACKENDS = {
    "local": "synthadmin.auth.local.LocalAuthGateway",
    "supabase": "synthadmin.auth.supabase.SupabaseAuthGateway",
}


def get_gateway(backend: str | None = None, *, cancel: threading.Event | None = None) -> AuthGateway:
    """The configured gateway (``SYNTHADMIN_AUTH_BACKEND``: an alias or a dotted path).

    Raises ConfigurationError when it cannot work as configured (an unknown backend, a missing
    or malformed ``SUPABASE_URL``, a missing key). ``cancel``: when set (Ctrl-C, SIGTERM), calls
    in flight end within a second or two with ``AuthCancelledError``. Each call is bounded by
    ``SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS``.
    """
    name = backend or settings.SYNTHADMIN_AUTH_BACKEND
    path = BACKENDS.get(name.lower(), name)
    try:
        gateway_class = import_string(path)
    except ImportError:
        raise ConfigurationError(
            f"unknown auth backend {name!r}; use 'supabase', 'local' or the dotted path of a gateway class"
        ) from None
    if not callable(getattr(gateway_class, "from_settings", None)):
        raise ConfigurationError(
            f"auth backend {name!r} is not a gateway class (it has no from_settings); "
            "use 'supabase' or 'local'"
        )
    gateway: AuthGateway = gateway_class.from_settings(cancel=cancel)
    return gateway


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
