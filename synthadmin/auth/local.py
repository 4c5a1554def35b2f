"""The local implementation: ``auth.users`` / ``auth.identities`` rows written as GoTrue writes them.

Used when no Supabase project is configured (the embedded default, CI). Only for a database
synthadmin may write ``auth`` rows in; the row shapes and the collision mapping (by constraint
name) live in ``gotrue_store`` and are shared with the Auth test server.

**Classification** (``_translate``, the one place), by SQLSTATE and error class, never the
message — the same typed errors as the Supabase gateway for the same conditions:

========================================  ===================================================
database error                            raised
========================================  ===================================================
23505 on ``users_pkey`` / identities      DuplicateUserIdError (from ``gotrue_store``)
23505 on ``users_email_partial_key``      DuplicateEmailError (from ``gotrue_store``)
57014 (statement_timeout: the deadline)   AuthDeadlineExceededError (rolled back: nothing made)
connection lost / refused                 AuthUnavailableError
55P03 (a lock wait past lock_timeout)     AuthUnavailableError (retried: the holder's
                                          transaction ends; SYNTHADMIN_LOCK_TIMEOUT named)
create: any other database error (a       AuthDatabaseRefusedError (code = SQLSTATE), naming
trigger's RAISE P0001, a CHECK, a FK...)  the constraint / table when PostgreSQL reports one
delete: 23503 or any other database error AuthDeleteBlockedError (code = SQLSTATE)
lookup: any other database error          AuthRejectedError (e.g. no privilege on auth.users)
========================================  ===================================================
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from synthadmin.auth import gotrue_store
from synthadmin.auth.base import AuthUserInfo, BaseAuthGateway, NewAuthUser
from synthadmin.db.errors import LOCK_NOT_AVAILABLE, pg_error, sqlstate
from synthadmin.db.pipeline import Statement, statements_pipelined
from synthadmin.exceptions import (
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthDeleteBlockedError,
    AuthGatewayError,
    AuthRejectedError,
    AuthUnavailableError,
    IdentityCollisionError,
)
from synthadmin.failpoints import AUTH_CREATE_IN_FLIGHT, failpoint

T = TypeVar("T")

QUERY_CANCELED = "57014"
FOREIGN_KEY_VIOLATION = "23503"

CREATE, LOOKUP, DELETE = "create", "lookup", "delete"


class LocalAuthGateway(BaseAuthGateway):
    """Writes Auth rows through the calling thread's Django connection (nothing to release).

    Passwords are hashed with bcrypt ``$2a$`` at ``rounds`` (GoTrue: 10). A user created without
    a password gets, as GoTrue does, the hash of a random secret nobody knows; here one such
    secret (and one hash) serves every password-less user of this gateway, because 1,000
    cost-10 hashes of secrets nobody will ever type cost over a minute of CPU.

    ``deadline_seconds`` becomes the transaction's ``statement_timeout``; ``cancel`` is checked
    before each call (a call here is one short transaction). Its preflight has nothing to check:
    the commands check Django's connection before writing, and the target checks say whether
    ``auth`` may be written.
    """

    name = "local"

    def __init__(
        self,
        *,
        rounds: int,
        deadline_seconds: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        super().__init__(cancel=cancel)
        self._rounds = rounds
        self._deadline = deadline_seconds
        self._unknown_hash: str | None = None
        self._lock = threading.Lock()

    def _hash_of_unknown_password(self) -> str:
        with self._lock:
            if self._unknown_hash is None:
                secret = secrets.token_urlsafe(48)  # 64 characters, as GoTrue generates
                self._unknown_hash = gotrue_store.hash_password(secret, rounds=self._rounds)
            return self._unknown_hash

    def __repr__(self) -> str:
        return f"LocalAuthGateway(rounds={self._rounds})"

    @classmethod
    def from_settings(cls, *, cancel: threading.Event | None = None) -> LocalAuthGateway:
        """The local gateway at ``SYNTHADMIN_LOCAL_BCRYPT_ROUNDS``, calls bounded by the deadline."""
        return cls(
            rounds=settings.SYNTHADMIN_LOCAL_BCRYPT_ROUNDS,
            deadline_seconds=settings.SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS,
            cancel=cancel,
        )

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        self._check_cancel("create user")
        try:
            # bcrypt runs outside the transaction (and releases the GIL), as GoTrue hashes
            # before it opens its own.
            password_hash = (
                self._hash_of_unknown_password()
                if user.password is None
                else gotrue_store.hash_password(user.password, rounds=self._rounds)
            )
        except ValueError as exc:
            raise AuthRejectedError(str(exc), status=400, code="validation_failed") from exc

        def insert(cursor: Any) -> AuthUserInfo:
            failpoint(AUTH_CREATE_IN_FLIGHT)  # tests only: a stop with the call under way
            row = gotrue_store.insert_user(
                cursor,
                user_id=user.id,
                email=user.email,
                password_hash=password_hash,
                email_confirm=True,
                user_metadata=user.user_metadata,
                app_metadata=user.app_metadata,
            )
            return AuthUserInfo.from_gotrue_json(row)

        return self._run(CREATE, insert)

    def create_users(self, users: Sequence[NewAuthUser], *, first: Sequence[Statement] = ()) -> None:
        """Create ``users`` as ``create_user`` creates each, in one transaction of one round trip
        (the three statements of ``gotrue_store.insert_users_statements`` pipelined, after the
        caller's ``first`` statements — its intent records — in the same transaction): all of
        them, or — on any refusal, collision or loss, raised as ``create_user`` would classify
        it — none of them, ``first`` included (the caller then creates them one by one to find
        out who)."""
        self._check_cancel("create users")
        if not users:
            return
        try:
            batch = [
                gotrue_store.NewEmailUser(
                    user_id=user.id,
                    email=user.email,
                    password_hash=self._hash_of_unknown_password()
                    if user.password is None
                    else gotrue_store.hash_password(user.password, rounds=self._rounds),
                    user_metadata=user.user_metadata,
                    app_metadata=user.app_metadata,
                )
                for user in users
            ]
        except ValueError as exc:
            raise AuthRejectedError(str(exc), status=400, code="validation_failed") from exc
        statements: list[Statement] = []
        if self._deadline:
            timeout = f"{int(self._deadline * 1000)}ms"
            statements.append(("SELECT set_config('statement_timeout', %s, true)", [timeout]))
        statements += [*first, *gotrue_store.insert_users_statements(batch)]
        failpoint(AUTH_CREATE_IN_FLIGHT)  # tests only: a stop with the call under way
        try:
            if connection.get_autocommit() and not connection.in_atomic_block:
                # One pipeline is one implicit transaction (no Sync until its end): one round trip.
                statements_pipelined(statements)
            else:
                with transaction.atomic():
                    statements_pipelined(statements)
        except DatabaseError as exc:
            raise _translate(exc, CREATE) from exc

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        self._check_cancel("look up a user")

        def fetch(cursor: Any) -> AuthUserInfo | None:
            row = gotrue_store.fetch_user(cursor, user_id)
            return AuthUserInfo.from_gotrue_json(row) if row is not None else None

        return self._run(LOOKUP, fetch)

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        if cancellable:
            self._check_cancel("delete user")
        return self._run(DELETE, lambda cursor: gotrue_store.delete_user(cursor, user_id))

    def delete_users(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Hard-delete ``user_ids`` in one statement; the ids that existed.

        Runs in the caller's transaction when there is one, without a savepoint of its own (so
        that the caller commits the deletes with what it records about them): a refusal raises
        as ``delete_user`` does — for the whole batch, whose transaction must then be rolled
        back (the caller finds out who, one delete at a time).
        """
        self._check_cancel("delete users")
        if not user_ids:
            return set()
        return self._run(
            DELETE, lambda cursor: set(gotrue_store.delete_users(cursor, user_ids)), savepoint=False
        )

    def _run(self, action: str, work: Callable[..., T], *, savepoint: bool = True) -> T:
        """``work(cursor)`` in one transaction, bounded by the deadline; errors translated.
        ``savepoint=False``: inside the caller's transaction, none of its own."""
        try:
            with transaction.atomic(savepoint=savepoint), connection.cursor() as cursor:
                if self._deadline:
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        [f"{int(self._deadline * 1000)}ms"],
                    )
                return work(cursor)
        except IdentityCollisionError:
            raise
        except DatabaseError as exc:
            raise _translate(exc, action) from exc


def _translate(exc: DatabaseError, action: str) -> AuthGatewayError:
    """The one place that classifies a database error of the local backend (module table)."""
    state = sqlstate(exc)
    if state == QUERY_CANCELED:
        return AuthDeadlineExceededError(
            f"the database did not finish the Auth {action} within the deadline "
            "(SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS); rolled back",
            code=state,
            user_may_exist=False,
        )
    if state == LOCK_NOT_AVAILABLE:  # transient: the other session's transaction ends
        return AuthUnavailableError(
            f"the Auth {action} waited longer than SYNTHADMIN_LOCK_TIMEOUT for a lock another session "
            f"holds (SQLSTATE {state}); rolled back",
            code=state,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        return AuthUnavailableError(
            f"database unavailable during the Auth {action}: {type(exc).__name__}", code=state
        )
    where = _where(exc)
    if action == CREATE:
        return AuthDatabaseRefusedError(
            f"the database refused the new auth.users row (SQLSTATE {state}{where}): a trigger on "
            "auth.users (e.g. a signup trigger writing to another table) or a constraint on it "
            "raised; retrying will not help; check the triggers and constraints on auth.users",
            code=state,
        )
    if action == DELETE:
        cause = (
            "a foreign key without ON DELETE CASCADE references the user"
            if state == FOREIGN_KEY_VIOLATION
            else "a trigger or rule refused the delete"
        )
        return AuthDeleteBlockedError(
            f"the database refused to delete the auth.users row (SQLSTATE {state}{where}): {cause}",
            code=state,
            user_may_exist=True,
        )
    return AuthRejectedError(
        f"cannot read auth.users (SQLSTATE {state}{where}): check the database role's privileges",
        code=state,
    )


def _where(exc: BaseException) -> str:
    """The table and constraint PostgreSQL names in its diagnostics (structured fields)."""
    error = pg_error(exc)
    if error is None:
        return ""
    parts = []
    if error.diag.constraint_name:
        parts.append(f"constraint {error.diag.constraint_name}")
    if error.diag.table_name:
        schema = f"{error.diag.schema_name}." if error.diag.schema_name else ""
        parts.append(f"table {schema}{error.diag.table_name}")
    if error.diag.message_primary:  # shown to the operator, never decided on
        parts.append(f"said {' '.join(error.diag.message_primary.split())[:200]!r}")
    return f", {', '.join(parts)}" if parts else ""
