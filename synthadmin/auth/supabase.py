"""The Supabase gateway: the official ``supabase`` client's Auth admin API and per-operation settling.

How each answer is classified: ``docs/auth-admin-api.md`` ("How synthadmin classifies answers").
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthError

from synthadmin.auth.base import APP_METADATA_KEY, AuthUserInfo, BaseAuthGateway, NewAuthUser
from synthadmin.auth.supabase_answers import LookupOutcome, Verdict, VerdictKind, classify
from synthadmin.auth.supabase_errors import Asked, described, verdict_error
from synthadmin.auth.transport import call_scope, http_client
from synthadmin.exceptions import (
    AuthAmbiguousError,
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthDeleteBlockedError,
    AuthRateLimitedError,
    AuthUnavailableError,
    ConfigurationError,
    DuplicateEmailError,
    DuplicateUserIdError,
)
from synthadmin.redaction import redact

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Default total deadline of one Auth call when the setting is absent.
DEFAULT_CALL_DEADLINE_SECONDS = 30.0
#: The lookup that settles an ambiguous create or delete gets at most this long, and at most a
#: quarter of the deadline: the request itself gets the rest, so that the whole gateway call,
#: lookup included, stays within the deadline. The stop event does not cut this lookup short
#: (it is what a stop waits for), but after a stop it gets at most ``CANCEL_RESOLVE_SECONDS``.
RESOLVE_DEADLINE_SECONDS = 5.0
CANCEL_RESOLVE_SECONDS = 1.5


class SupabaseAuthGateway(BaseAuthGateway):
    """The Auth admin API through the official client. A context manager; thread-safe.

    ``timeout`` bounds each connect / read / write (httpx); ``deadline_seconds`` bounds each
    whole HTTP call (default ``SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS``); ``cancel``, when set,
    interrupts calls in flight within ``transport.SLICE_SECONDS`` (plus the bounded lookup
    that settles a create or delete that was already sent).
    """

    name = "supabase"

    def __init__(
        self,
        *,
        url: str,
        key: str,
        timeout: float | httpx.Timeout = 5.0,
        deadline_seconds: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        super().__init__(cancel=cancel)
        self._key = key
        self._url = url
        self._url_shown = _url_shown(url)
        self._deadline = float(
            deadline_seconds
            if deadline_seconds is not None
            else getattr(settings, "SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS", DEFAULT_CALL_DEADLINE_SECONDS)
        )
        self._reserve = min(RESOLVE_DEADLINE_SECONDS, self._deadline / 4)
        #: Set once ``preflight`` passed: a later preflight on this gateway asks nothing again.
        self._preflight_passed = False
        self._http = http_client(timeout=timeout, url=url)
        options = ClientOptions(persist_session=False, auto_refresh_token=False, httpx_client=self._http)
        try:
            client = create_client(url, key, options=options)
        except Exception as exc:  # SupabaseException: invalid URL or key format
            self._http.close()
            # A configuration problem (a malformed URL, an empty key), not a refusal by Auth.
            raise ConfigurationError(
                self._redact(f"SUPABASE_URL / SUPABASE_SERVICE_ROLE_KEY cannot be used: {exc}")
            ) from None
        self._admin = client.auth.admin

    @classmethod
    def from_settings(cls, *, cancel: threading.Event | None = None) -> SupabaseAuthGateway:
        """The gateway ``SUPABASE_URL`` / ``SUPABASE_SERVICE_ROLE_KEY`` describe.

        Raises ConfigurationError, naming the variable, when either is missing or unusable.
        """
        if not settings.SUPABASE_URL:
            raise ConfigurationError(
                "SYNTHADMIN_AUTH_BACKEND is 'supabase' but SUPABASE_URL is not set: set it to "
                "https://<project-ref>.supabase.co, or use SYNTHADMIN_AUTH_BACKEND=local"
            )
        try:
            parsed = urlsplit(settings.SUPABASE_URL)
            usable = parsed.scheme in ("http", "https") and bool(parsed.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            usable = False
        if not usable:
            raise ConfigurationError(
                "SUPABASE_URL must look like https://<project-ref>.supabase.co, "
                f"got {settings.SUPABASE_URL!r}"
            )
        if not settings.SUPABASE_SERVICE_ROLE_KEY:
            raise ConfigurationError(
                "SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not: set it to the project's "
                "service-role key (Project Settings > API), or use SYNTHADMIN_AUTH_BACKEND=local"
            )
        return cls(
            url=settings.SUPABASE_URL,
            key=settings.SUPABASE_SERVICE_ROLE_KEY,
            deadline_seconds=settings.SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS,
            cancel=cancel,
        )

    def __repr__(self) -> str:  # never show the key
        return f"SupabaseAuthGateway(url={self._url!r})"

    @property
    def deadline_seconds(self) -> float:
        return self._deadline

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
            response = self._exchange(
                lambda: self._admin.create_user(attributes),  # type: ignore[arg-type]
                deadline=self._deadline - self._reserve,
            )
        except _Failed as failed:
            return self._create_failed(user, failed)
        return AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json"))

    def get_user(self, user_id: uuid.UUID) -> AuthUserInfo | None:
        try:
            response = self._exchange(lambda: self._admin.get_user_by_id(str(user_id)))
        except _Failed as failed:
            verdict = failed.verdict
            if verdict.kind == VerdictKind.NOT_FOUND:
                return None
            raise verdict_error(verdict, self._asked("look up a user", read=True)) from failed.cause
        return AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json"))

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        try:
            self._exchange(
                lambda: self._admin.delete_user(str(user_id), should_soft_delete=False),
                deadline=self._deadline - self._reserve,
                cancellable=cancellable,
            )
        except _Failed as failed:
            return self._delete_failed(user_id, failed)
        return True

    def preflight(self) -> None:
        """Prove with one cheap authenticated call, before anything is written, that
        ``SUPABASE_URL`` is Supabase Auth and accepts the key: ``GET /admin/users/{a fresh
        uuid4}``, answered 404 ``user_not_found`` (or, against all odds, with a user). Writes
        nothing; one HTTP call, within the call deadline, and none once it passed on this gateway
        (the command and the service it calls both check); no retry (the caller's policy).

        Raises, each with one line that names the URL (never the key) and what to fix:
        AuthUnavailableError — not reached (``reason``: name not resolved, connection refused,
        connect timed out) or no usable answer (5xx, a dropped connection), transient;
        AuthRateLimitedError (429); AuthDeadlineExceededError (the call deadline passed);
        AuthRejectedError — 401/403 (the key refused: wrong project, anon key, a proxy) or
        another 4xx; AuthBadResponseError — the answer is not Supabase Auth's (SUPABASE_URL
        points at something else); AuthCancelledError — the stop event was set.
        """
        if self._preflight_passed:
            return
        probe = uuid.uuid4()
        try:
            self._exchange(lambda: self._admin.get_user_by_id(str(probe)))
        except _Failed as failed:
            if failed.verdict.kind != VerdictKind.NOT_FOUND:
                raise verdict_error(failed.verdict, self._asked()) from failed.cause
        self._preflight_passed = True

    def close(self) -> None:
        self._http.close()

    def _exchange(
        self, call: Callable[[], T], *, deadline: float | None = None, cancellable: bool = True
    ) -> T:
        """Run one client call in its own scope; a failure becomes ``_Failed(verdict)``."""
        with call_scope(
            deadline=self._deadline if deadline is None else deadline,
            cancel=self._cancel if cancellable else None,
        ) as scope:
            try:
                return call()
            except (AuthError, ValueError) as exc:  # ValueError: pydantic, on a 2xx it cannot read
                raise _Failed(classify(exc, scope), exc) from exc

    def _lookup_to_settle(
        self, user_id: uuid.UUID, verdict: Verdict
    ) -> tuple[LookupOutcome, AuthUserInfo | None, Verdict | None]:
        """One bounded, non-cancellable lookup after ``verdict``: (FOUND, user, None) /
        (ABSENT, None, None) / (UNKNOWN, None, the lookup's verdict)."""
        seconds = self._reserve
        if verdict.kind == VerdictKind.CANCELLED:
            seconds = min(seconds, CANCEL_RESOLVE_SECONDS)
        try:
            response = self._exchange(
                lambda: self._admin.get_user_by_id(str(user_id)), deadline=seconds, cancellable=False
            )
        except _Failed as failed:
            if failed.verdict.kind == VerdictKind.NOT_FOUND:
                return LookupOutcome.ABSENT, None, None
            return LookupOutcome.UNKNOWN, None, failed.verdict
        return LookupOutcome.FOUND, AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json")), None

    def _create_failed(self, user: NewAuthUser, failed: _Failed) -> AuthUserInfo:
        verdict, cause = failed.verdict, failed.cause
        settles = {VerdictKind.EMAIL_EXISTS, VerdictKind.SERVER_ERROR, VerdictKind.NO_ANSWER}
        if verdict.sent:  # cut short after the request went out: only a lookup can tell
            settles |= {VerdictKind.DEADLINE, VerdictKind.CANCELLED}
        if verdict.kind not in settles:
            asked = self._asked("create user", created_maybe=verdict.sent)
            raise verdict_error(verdict, asked) from cause

        found, existing, lookup = self._lookup_to_settle(user.id, verdict)
        if (
            found == LookupOutcome.FOUND
            and existing is not None
            and _same_marker(existing.app_metadata, user.app_metadata)
        ):
            logger.info("user %s was created although the answer said otherwise; taking it", user.id)
            return existing
        if verdict.kind == VerdictKind.EMAIL_EXISTS:
            # A lookup that could not answer leaves open that the e-mail is our own earlier
            # attempt's (created although its answer was lost): the user may exist.
            raise DuplicateEmailError(
                "Supabase Auth: a user with this e-mail address already exists",
                **_answer(verdict, user_may_exist=found == LookupOutcome.UNKNOWN),
            ) from cause
        if verdict.kind == VerdictKind.CANCELLED:
            raise AuthCancelledError(
                f"stopped while creating user {user.id}"
                + (": it may have been created; purge resolves it" if found != LookupOutcome.FOUND else ""),
                user_may_exist=found != LookupOutcome.FOUND,
            ) from cause
        if found == LookupOutcome.FOUND:
            raise DuplicateUserIdError(
                f"user id {user.id} already belongs to another Auth user",
                **_answer(verdict),
            ) from cause
        if found == LookupOutcome.ABSENT:
            if verdict.kind == VerdictKind.SERVER_ERROR:
                raise AuthDatabaseRefusedError(
                    "Supabase Auth's database refused the new user (500, and no user has the id "
                    "afterwards): most likely a trigger on auth.users (e.g. a signup trigger that "
                    "writes to another table) raised, or a constraint added to auth.users failed; "
                    "retrying will not help; check the project's triggers and constraints on auth.users",
                    **_answer(verdict),
                ) from cause
            raise AuthUnavailableError(
                f"Supabase Auth gave no answer to creating user {user.id} ({described(verdict)}) and "
                "has no such user yet; retry the same request",
                **_answer(verdict, user_may_exist=True),
            ) from cause
        # The lookup could not answer either.
        if lookup is not None and lookup.kind == VerdictKind.RATE_LIMITED:
            raise AuthRateLimitedError(
                f"Supabase Auth rate-limited the lookup that settles creating user {user.id}; "
                "the user may have been created",
                retry_after=lookup.retry_after,
                **_answer(lookup, user_may_exist=True),
            ) from cause
        error_type = AuthDeadlineExceededError if verdict.kind == VerdictKind.DEADLINE else AuthAmbiguousError
        raise error_type(
            f"Supabase Auth gave no answer to creating user {user.id} ({described(verdict)}) and the "
            "lookup that would settle it failed too: the user may have been created; keep the "
            "intent, a retry or a purge resolves it",
            **_answer(verdict, user_may_exist=True),
        ) from cause

    def _delete_failed(self, user_id: uuid.UUID, failed: _Failed) -> bool:
        verdict, cause = failed.verdict, failed.cause
        if verdict.kind == VerdictKind.NOT_FOUND:
            return False
        settles = {VerdictKind.SERVER_ERROR, VerdictKind.NO_ANSWER}
        if verdict.sent:
            settles |= {VerdictKind.DEADLINE, VerdictKind.CANCELLED}
        if verdict.kind not in settles:
            raise verdict_error(verdict, self._asked("delete user")) from cause
        found, _existing, _lookup = self._lookup_to_settle(user_id, verdict)
        if found == LookupOutcome.ABSENT:
            return True  # the delete happened although the answer said otherwise
        if verdict.kind == VerdictKind.CANCELLED:
            # Not proven gone (that returned above): the user may still exist.
            raise AuthCancelledError(f"stopped while deleting user {user_id}", user_may_exist=True) from cause
        if found == LookupOutcome.FOUND and verdict.kind == VerdictKind.SERVER_ERROR:
            raise AuthDeleteBlockedError(
                f"Supabase Auth could not delete user {user_id} (500, and the user is still there): "
                "most likely a foreign key without ON DELETE CASCADE references it from another "
                "table, or a trigger refused the delete",
                **_answer(verdict, user_may_exist=True),
            ) from cause
        if found == LookupOutcome.FOUND:
            raise AuthUnavailableError(
                f"Supabase Auth gave no answer to deleting user {user_id} ({described(verdict)}); it "
                "is still there: retry",
                **_answer(verdict, user_may_exist=True),
            ) from cause
        error_type = AuthDeadlineExceededError if verdict.kind == VerdictKind.DEADLINE else AuthAmbiguousError
        raise error_type(
            f"Supabase Auth gave no answer to deleting user {user_id} ({described(verdict)}): it may "
            "or may not have been deleted",
            **_answer(verdict, user_may_exist=True),
        ) from cause

    def _asked(self, action: str = "", *, read: bool = False, created_maybe: bool = False) -> Asked:
        """What this gateway was doing, for the message catalogue (no action: the preflight)."""
        return Asked(
            url=self._url_shown,
            deadline=self._deadline,
            key=self._key,
            action=action,
            read=read,
            created_maybe=created_maybe,
        )

    def _redact(self, text: str) -> str:
        """``text`` without this gateway's key in any spelling (raw, repr, quoted, JSON-escaped)."""
        return redact(text, [self._key]) if self._key else text


@dataclass
class _Failed(Exception):
    """Internal: one exchange failed; ``verdict`` says what its answer proves."""

    verdict: Verdict
    cause: BaseException


def _answer(verdict: Verdict, *, user_may_exist: bool | None = None) -> dict[str, Any]:
    """What an error carries of the answer: its HTTP status and GoTrue error code (and, when the
    caller knows it, whether the user may exist)."""
    carried: dict[str, Any] = {"status": verdict.status, "code": verdict.code}
    if user_may_exist is not None:
        carried["user_may_exist"] = user_may_exist
    return carried


def _url_shown(url: str) -> str:
    """``url`` as messages show it: scheme, host, port and path; no user, password, query or
    fragment (where a secret could hide)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "SUPABASE_URL"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def _same_marker(existing: Mapping[str, Any], requested: Mapping[str, Any]) -> bool:
    mine = requested.get(APP_METADATA_KEY)
    return mine is not None and existing.get(APP_METADATA_KEY) == mine


__all__ = ["SupabaseAuthGateway"]
