"""The in-memory gateway: Auth users in a dict, for tests (like Django's ``mail.backends.locmem``).

Choose it with ``SYNTHADMIN_AUTH_BACKEND = "synthadmin.auth.locmem.LocMemAuthGateway"``. It
writes no ``auth`` rows, so it cannot back a write of ``public.profiles`` (whose id references
``auth.users``): it serves tests of what happens around the Auth calls.
"""

from __future__ import annotations

import threading
import uuid

from synthadmin.auth.base import AuthUserInfo, BaseAuthGateway, NewAuthUser
from synthadmin.auth.gotrue_store import BCRYPT_MAX_PASSWORD_BYTES
from synthadmin.exceptions import AuthRejectedError, DuplicateEmailError, DuplicateUserIdError

#: The users every gateway made by ``from_settings`` shares (like ``django.core.mail.outbox``),
#: so that a test reads what a service created; clear it between tests.
users: dict[uuid.UUID, AuthUserInfo] = {}

_lock = threading.Lock()


class LocMemAuthGateway(BaseAuthGateway):
    """Creates, reads and deletes users in ``self.users``: the module's ``users``, or ``store``.

    Honours the gateway contract: the caller's id, the e-mail stored lower-cased and unique
    whatever its case (DuplicateUserIdError, DuplicateEmailError), a password over 72 bytes
    refused as GoTrue's bcrypt would (AuthRejectedError ``validation_failed``), ``get_user``
    None and ``delete_user`` False for an unknown id, and a set stop event raising
    AuthCancelledError before any call. The metadata is kept as given.
    """

    name = "locmem"

    def __init__(
        self,
        *,
        store: dict[uuid.UUID, AuthUserInfo] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        super().__init__(cancel=cancel)
        self.users = users if store is None else store

    @classmethod
    def from_settings(cls, *, cancel: threading.Event | None = None) -> LocMemAuthGateway:
        """An in-memory gateway on the shared ``users``."""
        return cls(cancel=cancel)

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        self._check_cancel("create user")
        if user.password is not None and len(user.password.encode("utf-8")) > BCRYPT_MAX_PASSWORD_BYTES:
            raise AuthRejectedError(
                f"password is longer than {BCRYPT_MAX_PASSWORD_BYTES} bytes",
                status=400,
                code="validation_failed",
            )
        email = user.email.lower()
        with _lock:
            if user.id in self.users:
                raise DuplicateUserIdError(f"a user with id {user.id} already exists")
            if any(existing.email == email for existing in self.users.values()):
                raise DuplicateEmailError("a user with this email address already exists")
            created = AuthUserInfo(
                id=user.id,
                email=email,
                app_metadata=dict(user.app_metadata),
                user_metadata=dict(user.user_metadata),
            )
            self.users[user.id] = created
        return created

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        self._check_cancel("look up a user")
        with _lock:
            return self.users.get(user_id)

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        if cancellable:
            self._check_cancel("delete user")
        with _lock:
            return self.users.pop(user_id, None) is not None


__all__ = ["LocMemAuthGateway", "users"]
