"""The Supabase implementation: the official ``supabase`` client's Auth admin API.

The client is built from settings when a gateway is made, never at import, with session
persistence and token refresh off, and is only ever used for admin calls (a sign-in would
swap its Authorization header). Error mapping follows the Auth admin API contract: status,
error code and, for the ambiguous 500, a lookup of the id — never the words of a message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthError, AuthRetryableError

from synthadmin.auth.base import APP_METADATA_KEY, AuthUserInfo, NewAuthUser
from synthadmin.exceptions import (
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
    UserNotFoundError,
)

logger = logging.getLogger(__name__)


class SupabaseAuthGateway:
    name = "supabase"

    def __init__(self, *, url: str, key: str, http_client: httpx.Client | None = None) -> None:
        self._key = key
        self._url = url
        options = ClientOptions(persist_session=False, auto_refresh_token=False)
        if http_client is not None:
            options.httpx_client = http_client
        try:
            client = create_client(url, key, options=options)
        except Exception as exc:  # SupabaseException: invalid URL or key format
            raise AuthRejectedError(self._redact(f"cannot build the Supabase client: {exc}")) from None
        self._admin = client.auth.admin

    def __repr__(self) -> str:  # never show the key
        return f"SupabaseAuthGateway(url={self._url!r})"

    # --- the gateway interface ---------------------------------------------------------
    def create_user(self, user: NewAuthUser) -> AuthUserInfo:
        attributes: dict[str, Any] = {
            "id": str(user.id),
            "email": user.email,
            "email_confirm": True,
            "user_metadata": dict(user.user_metadata),
            "app_metadata": dict(user.app_metadata),
        }
        if user.password is not None:
            # Without one, GoTrue stores the hash of a random password nobody knows.
            attributes["password"] = user.password
        try:
            response = self._admin.create_user(attributes)  # type: ignore[arg-type]
        except AuthError as exc:
            error = self._translate(exc, "create user")
            if isinstance(error, DuplicateEmailError) or (
                error.status == 500 and error.code == "unexpected_failure"
            ):
                # Was it us? A retried request whose first try succeeded meets its own user.
                existing = self._lookup(user.id)
                if existing is not None and _same_marker(existing.app_metadata, user.app_metadata):
                    logger.info("user %s already created by an earlier attempt of this request", user.id)
                    return existing
                if error.status == 500:
                    if existing is not None:
                        raise DuplicateUserIdError(
                            f"user id {user.id} already belongs to another user",
                            status=error.status,
                            code=error.code,
                        ) from exc
                    raise AuthUnavailableError(str(error), status=error.status, code=error.code) from exc
            raise error from exc
        return AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json"))

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        return self._lookup(user_id)

    def delete_user(self, user_id: uuid.UUID) -> bool:
        try:
            self._admin.delete_user(str(user_id), should_soft_delete=False)
        except AuthError as exc:
            error = self._translate(exc, "delete user")
            if isinstance(error, UserNotFoundError):
                return False
            raise error from exc
        return True

    def close(self) -> None:
        http = getattr(self._admin, "_http_client", None)
        if http is not None:
            http.close()

    # --- helpers -----------------------------------------------------------------------
    def _lookup(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        try:
            response = self._admin.get_user_by_id(str(user_id))
        except AuthError as exc:
            error = self._translate(exc, "look up user")
            if isinstance(error, UserNotFoundError):
                return None
            raise error from exc
        return AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json"))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[service-role key]") if self._key else text

    def _translate(self, exc: AuthError, action: str) -> Exception:
        """Map a client exception to our typed errors by class, status and error code."""
        status = getattr(exc, "status", None) or None
        original = getattr(exc, "original_error", None)  # AuthUnknownError: non-JSON body
        if status is None and isinstance(original, httpx.HTTPStatusError):
            status = original.response.status_code
        code = getattr(exc, "code", None)
        message = self._redact(
            f"Supabase Auth could not {action}: {getattr(exc, 'message', '') or type(exc).__name__}"
        )
        if isinstance(exc, AuthRetryableError):
            # Connection errors and timeouts (status 0) and 502/503/504/52x: try again later.
            return AuthUnavailableError(message, status=status, code=code)
        if status == 422 and code == "email_exists":
            return DuplicateEmailError(message, status=status, code=code)
        if status == 404:
            return UserNotFoundError(message, status=status, code=code)
        if status in (401, 403):
            return AuthRejectedError(
                self._redact(
                    f"Supabase Auth refused the service-role key ({status} {code or 'no code'}): "
                    "check SUPABASE_SERVICE_ROLE_KEY is the project's service-role key "
                    "(not the anon key) and SUPABASE_URL is the same project"
                ),
                status=status,
                code=code,
            )
        if status == 429 or (status is not None and status >= 500):
            return AuthUnavailableError(message, status=status, code=code)
        if status is not None and 400 <= status < 500:
            return AuthRejectedError(message, status=status, code=code)
        return AuthUnavailableError(message, status=status, code=code)


def _same_marker(existing: Mapping[str, Any], requested: Mapping[str, Any]) -> bool:
    mine = requested.get(APP_METADATA_KEY)
    return mine is not None and existing.get(APP_METADATA_KEY) == mine
