"""The local implementation: ``auth.users`` / ``auth.identities`` rows written as GoTrue writes them.

Used when no Supabase project is configured (the embedded default, CI). Only for a database
synthadmin may write ``auth`` rows in; the row shapes and the error mapping (by constraint
name) live in ``gotrue_store`` and are shared with the Auth test server.
"""

from __future__ import annotations

import uuid

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from synthadmin.auth import gotrue_store
from synthadmin.auth.base import AuthUserInfo, NewAuthUser
from synthadmin.exceptions import AuthRejectedError, AuthUnavailableError, IdentityCollisionError


class LocalAuthGateway:
    name = "local"

    def __init__(self, *, rounds: int) -> None:
        self._rounds = rounds

    def __repr__(self) -> str:
        return f"LocalAuthGateway(rounds={self._rounds})"

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        try:
            # bcrypt runs outside the transaction (and releases the GIL), as GoTrue hashes
            # before it opens its own.
            password_hash = gotrue_store.hash_password(user.password, rounds=self._rounds)
        except ValueError as exc:
            raise AuthRejectedError(str(exc), status=400, code="validation_failed") from exc
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                row = gotrue_store.insert_user(
                    cursor,
                    user_id=user.id,
                    email=user.email,
                    password_hash=password_hash,
                    email_confirm=True,
                    user_metadata=user.user_metadata,
                    app_metadata=user.app_metadata,
                )
        except IdentityCollisionError:
            raise
        except (OperationalError, InterfaceError) as exc:
            raise AuthUnavailableError(
                f"database unavailable while creating user: {type(exc).__name__}"
            ) from exc
        return AuthUserInfo.from_gotrue_json(row)

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        try:
            with connection.cursor() as cursor:
                row = gotrue_store.fetch_user(cursor, user_id)
        except (OperationalError, InterfaceError) as exc:
            raise AuthUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
        return AuthUserInfo.from_gotrue_json(row) if row is not None else None

    def delete_user(self, user_id: uuid.UUID) -> bool:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                return gotrue_store.delete_user(cursor, user_id)
        except (OperationalError, InterfaceError) as exc:
            raise AuthUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
        except DatabaseError:
            raise

    def close(self) -> None:
        """Nothing to release: rows go through the calling thread's Django connection."""
