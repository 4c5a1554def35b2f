"""What ends a user's attempts, in words: the failure reasons and run diagnoses of user creation
(``services.user_creation``), decided by the error's type, never its message."""

from __future__ import annotations

from django.db import DatabaseError

from synthadmin.db.errors import first_line
from synthadmin.exceptions import (
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
)

#: Identity collisions (duplicate e-mail / id): at most this many attempts per user, in all.
IDENTITY_ATTEMPTS = 3


def stops_the_run(error: BaseException | None) -> bool:
    """A rejected key or an unusable answer: every further call would get the same."""
    return isinstance(error, AuthRejectedError) and not isinstance(error, AuthDatabaseRefusedError)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, DuplicateEmailError):
        return f"e-mail already registered on all {IDENTITY_ATTEMPTS} attempts ({exc})"
    if isinstance(exc, DuplicateUserIdError):
        return f"user id already taken on all {IDENTITY_ATTEMPTS} attempts ({exc})"
    if isinstance(exc, AuthUnavailableError):
        return f"Auth service unavailable after retries: {exc}"
    if isinstance(exc, DatabaseError):
        return f"database error: {type(exc).__name__}: {first_line(exc)}"
    return str(exc)


def streak_diagnosis(error: BaseException | None, count: int) -> str:
    if isinstance(error, AuthDeadlineExceededError):
        return (
            f"Supabase Auth did not answer within the call deadline (SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS) "
            f"for {count} users in a row ({error}); check that SUPABASE_URL is right and the service "
            "healthy, then run again"
        )
    if isinstance(error, AuthDatabaseRefusedError):
        return (
            f"the Auth database refused the new auth.users row for {count} users in a row ({error}); "
            "a trigger or constraint on auth.users rejects it: fix it, then run again"
        )
    return (
        f"the Auth service stayed unavailable for {count} users in a row ({error}); "
        "check that SUPABASE_URL is right and reachable, then run again"
    )


__all__ = ["IDENTITY_ATTEMPTS", "failure_reason", "stops_the_run", "streak_diagnosis"]
