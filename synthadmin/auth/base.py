"""The Auth gateway interface: the ``AuthGateway`` contract, its values, and ``BaseAuthGateway``.

Modelled on Django's e-mail backends: callers ask ``get_gateway()`` (in ``synthadmin.auth``)
for the configured implementation and use only this interface; the implementations (Supabase,
local, in-memory) subclass ``BaseAuthGateway``, which closes them as context managers.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

from synthadmin.exceptions import AuthCancelledError

#: Key of the ``app_metadata`` object that marks a user as synthadmin's, with its run and intent:
#: how purge recognises the Auth users it may delete, and how a retried create recognises its own.
APP_METADATA_KEY = "synthadmin"


@dataclass(frozen=True)
class NewAuthUser:
    """What synthadmin asks the Auth service to create. ``id`` is ours (a uuid4).

    ``password`` None means "nobody will ever log in with it": like GoTrue given no password,
    the user gets a random one that nobody knows.
    """

    id: uuid.UUID
    email: str
    user_metadata: Mapping[str, Any]
    app_metadata: Mapping[str, Any]
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AuthUserInfo:
    """What the Auth service says about an existing user."""

    id: uuid.UUID
    email: str
    app_metadata: Mapping[str, Any]
    user_metadata: Mapping[str, Any]

    @classmethod
    def from_gotrue_json(cls, user: Mapping[str, Any]) -> AuthUserInfo:
        """From a user object as GoTrue renders it (``POST``/``GET /admin/users``)."""
        return cls(
            id=uuid.UUID(str(user["id"])),
            email=user.get("email") or "",
            app_metadata=user.get("app_metadata") or {},
            user_metadata=user.get("user_metadata") or {},
        )


class AuthGateway(Protocol):
    """Creates, reads and (hard-)deletes Auth users. Raises ``AuthGatewayError`` subclasses."""

    name: str

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        """Create the user with ``user.id`` as its id, e-mail confirmed, no e-mail sent.

        Raises DuplicateEmailError, DuplicateUserIdError, AuthUnavailableError, AuthRejectedError.
        """
        ...

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        """The user, or None when no user has that id."""
        ...

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        """Hard-delete (cascading to profile and check-ins); False when it did not exist.

        ``cancellable=False``: an undo (the compensating delete of a user whose rows could not
        be written) runs whatever the stop event says, still bounded by the call deadline — a
        stop starts no new work, it never keeps what was done from being undone.
        """
        ...

    def preflight(self) -> None:
        """Check, writing nothing, that the service can be used as configured (reached, the key
        accepted). Raises the ``AuthGatewayError`` subclass of what it found, its message one
        line naming what to fix; a local gateway has nothing to check."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def __enter__(self) -> AuthGateway:
        """A gateway is a context manager: it closes itself (like Django's mail backends)."""
        ...

    def __exit__(self, *exc_info: object) -> None: ...


@runtime_checkable
class BatchCreatingGateway(Protocol):
    """A gateway that also creates many users at once, in one database transaction that first
    runs the caller's ``first`` statements (SQL and parameters: its intent records): all of
    them, or none (``LocalAuthGateway.create_users``); raises as ``create_user`` does."""

    def create_users(self, users: Sequence[NewAuthUser], *, first: Sequence[Any] = ()) -> None: ...


class BaseAuthGateway:
    """What every gateway shares, written once (like Django's ``BaseEmailBackend``): the
    context-manager protocol around ``close``, the stop event, and "nothing to check" as the
    preflight. Subclasses implement the three calls and ``from_settings(*, cancel)``."""

    name = ""

    def __init__(self, *, cancel: threading.Event | None = None) -> None:
        self._cancel = cancel

    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        raise NotImplementedError("a gateway implements create_user")

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        raise NotImplementedError("a gateway implements get_user")

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        raise NotImplementedError("a gateway implements delete_user")

    def preflight(self) -> None:
        """Nothing to check (a gateway that calls a service overrides this)."""

    def close(self) -> None:
        """Nothing to release (a gateway that holds connections overrides this)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_cancel(self, action: str) -> None:
        """Raise AuthCancelledError (nothing was sent) when the stop event is set."""
        if self._cancel is not None and self._cancel.is_set():
            raise AuthCancelledError(f"stopped before trying to {action}", user_may_exist=False)
