"""synthadmin's typed errors.

Code decides by the type of an error (and the status / error code / SQLSTATE / constraint it
carries), never by the words of its message. Every error raised from a lower-level failure is
raised ``from`` it, and no message ever contains the service-role key.
"""

from __future__ import annotations


class SynthadminError(Exception):
    """Base of every error synthadmin raises on purpose."""


class ConfigurationError(SynthadminError):
    """The project is configured in a way that cannot work (missing key, bad backend...)."""


class InvalidRequestError(SynthadminError, ValueError):
    """A generation/purge request with a bad parameter; ``field`` names the parameter."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthGatewayError(SynthadminError):
    """A failure of the Auth service (Supabase Auth admin API or the local writer)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        detail = ", ".join(
            part for part in (f"status {self.status}" if self.status else "", self.code or "") if part
        )
        base = super().__str__()
        return f"{base} ({detail})" if detail else base


class IdentityCollisionError(AuthGatewayError):
    """The user's identity (email or id) is taken: retry with a fresh one."""


class DuplicateEmailError(IdentityCollisionError):
    """422 ``email_exists``; locally a unique violation of ``users_email_partial_key``."""


class DuplicateUserIdError(IdentityCollisionError):
    """The chosen id already belongs to another user (``users_pkey`` / ``profiles_pkey``)."""


class AuthUnavailableError(AuthGatewayError):
    """Transient: timeouts, connection errors, 429, 5xx not explained by a collision. Retry later."""


class AuthRejectedError(AuthGatewayError):
    """Not retryable: 401/403 (wrong or non-service key), 400 validation. Stop the whole run."""


class UserNotFoundError(AuthGatewayError):
    """404 ``user_not_found``: no user with that id."""
