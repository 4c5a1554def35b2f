"""synthadmin's typed errors.

Code decides by the type of an error (and the status / error code / SQLSTATE / constraint it
carries), never by the words of its message. Every error raised from a lower-level failure is
raised ``from`` it, and no message ever contains the service-role key.

The Auth errors, by what the answer proves (``docs/auth-admin-api.md``)::

    AuthGatewayError
    ├── IdentityCollisionError            the id or e-mail is taken: a fresh identity, retry
    │   ├── DuplicateEmailError
    │   └── DuplicateUserIdError
    ├── AuthUnavailableError              transient: back off and retry the same request
    │   ├── AuthRateLimitedError          429: everybody slows down, ``retry_after`` seconds
    │   └── AuthAmbiguousError            sent, outcome unknown: the user may have been created
    │       └── AuthDeadlineExceededError the call's total deadline passed
    ├── AuthRejectedError                 the same request gets the same answer: stop
    │   ├── AuthBadResponseError          not Supabase Auth's JSON (HTML page, proxy, wrong URL)
    │   ├── AuthDatabaseRefusedError      a trigger / constraint on auth.users refused the user
    │   └── AuthDeleteBlockedError        a foreign key (or trigger) refused the delete
    ├── AuthCancelledError                the caller's stop event interrupted the call
    └── UserNotFoundError

``user_may_exist`` (on every Auth error) says whether a create that raised it may nevertheless
have left a user behind: when True, the intent must stay purge-resolvable.
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
    """A failure of the Auth service (Supabase Auth admin API or the local writer).

    ``status``: the HTTP status (None when there was no answer, or for the local backend);
    ``code``: GoTrue's error code, or the SQLSTATE for the local backend and legacy bodies;
    ``user_may_exist``: the call may have created (or, for a delete, not deleted) the user
    although it raised — keep the intent until a lookup or a purge resolves it.
    """

    #: The default of ``user_may_exist`` for the class.
    may_exist_by_default = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        user_may_exist: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.user_may_exist = self.may_exist_by_default if user_may_exist is None else user_may_exist

    @property
    def message(self) -> str:
        """The message alone, without the ``(status …, code)`` that ``str()`` appends."""
        return super().__str__()

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
    """Transient: retry the same request later, with backoff.

    This class itself: the request never reached the service (connection refused, name
    resolution, connect timeout), or a read failed, or a lookup proved the create had not
    happened (then ``user_may_exist`` may still be True: the service could be processing it).
    """


class AuthRateLimitedError(AuthUnavailableError):
    """429: slow down. ``retry_after`` is the seconds ``Retry-After`` asked for (None if absent).

    Nothing was done (a rate limiter answers before the request is processed).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class AuthAmbiguousError(AuthUnavailableError):
    """The request was sent and no trustworthy answer came back (502/503/504, GoTrue's own 504
    ``request_timeout``, a read timeout, a dropped connection) and no lookup could settle it:
    the user **may have been created**. Retrying the same request (same id, same marker) is
    safe; until then the intent must stay purge-resolvable."""

    may_exist_by_default = True


class AuthDeadlineExceededError(AuthAmbiguousError):
    """The call's total deadline (``SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS``) passed.

    ``user_may_exist`` is False when the request was never sent (stuck connecting)."""


class AuthRejectedError(AuthGatewayError):
    """Not retryable: the same request would get the same answer. 401/403 (wrong or non-service
    key, a proxy), 400/422 validation, a wrong URL. Stop the whole run (subclasses say when a
    single user may fail instead)."""


class AuthBadResponseError(AuthRejectedError):
    """The answer is not Supabase Auth's JSON (an HTML page with 200, a proxy's error page, an
    unexpected shape): SUPABASE_URL points at something else, or something in between rewrites
    answers. ``user_may_exist`` is True for a create answered 2xx."""


class AuthDatabaseRefusedError(AuthRejectedError):
    """The database refused the new ``auth.users`` row, deterministically: a trigger on
    ``auth.users`` (e.g. a signup trigger inserting into another table) raised, or a constraint
    the project added failed. On Supabase: 500 ``unexpected_failure`` and no user at the id
    afterwards; locally: a database error other than the known collisions (``code`` = SQLSTATE).
    Retrying the same request gets the same answer; this user fails, nothing was created."""


class AuthDeleteBlockedError(AuthRejectedError):
    """The delete was refused by the database and the user still exists: a foreign key without
    ``ON DELETE CASCADE`` references it (locally SQLSTATE 23503), or a trigger refused it.
    Not retryable; name the user as blocked."""


class AuthCancelledError(AuthGatewayError):
    """The stop event given to the gateway was set while the call was waiting or in flight.

    ``user_may_exist`` True: the request was sent and the lookup that followed could not
    settle it (or was not attempted). Not retried."""


class UserNotFoundError(AuthGatewayError):
    """404 ``user_not_found``: no user with that id."""
