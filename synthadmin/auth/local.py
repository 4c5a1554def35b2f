"""The local implementation: ``auth.users`` / ``auth.identities`` rows written as GoTrue writes them.

Used when no Supabase project is configured (the embedded default, CI). Only for a database
synthadmin may write ``auth`` rows in; the row shapes and the error mapping (by constraint
name) live in ``gotrue_store`` and are shared with the Auth test server.
"""

from __future__ import annotations

import secrets
import threading
import uuid

from django.db import InterfaceError, OperationalError, connection, transaction

from synthadmin.auth import gotrue_store
from synthadmin.auth.base import AuthUserInfo, NewAuthUser
from synthadmin.exceptions import AuthRejectedError, AuthUnavailableError


class LocalAuthGateway:
    """Writes Auth rows through the calling thread's Django connection.

    Passwords are hashed with bcrypt ``$2a$`` at ``rounds`` (GoTrue: 10). A user created without
    a password gets, as GoTrue does, the hash of a random secret nobody knows; here one such
    secret (and one hash) serves every password-less user of this gateway, because 1,000
    cost-10 hashes of secrets nobody will ever type cost over a minute of CPU.
    """

    name = "local"

    def __init__(self, *, rounds: int) -> None:
        self._rounds = rounds
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

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
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

    def close(self) -> None:
        """Nothing to release: rows go through the calling thread's Django connection."""
