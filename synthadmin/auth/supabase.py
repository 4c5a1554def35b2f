"""The Supabase implementation: the official ``supabase`` client's Auth admin API.

The client is built from settings when a gateway is made, never at import, with session
persistence and token refresh off, and is only ever used for admin calls (a sign-in would
swap its Authorization header). It runs on our own httpx client (``transport``): every call
has a total deadline and can be cut short by a stop event, and the raw answer (status,
headers, body) is kept for classification.

**Classification** (``_classify``, the one place): by what the answer proves — HTTP status,
error code (``code`` of the 2024 body or ``error_code`` of the legacy one, read from the body
itself, so it does not matter whether ``X-Supabase-Api-Version`` came back), whether the body
is Supabase Auth's JSON at all, and whether the request had been sent. Never by message text.
Then each operation decides, looking the id up where only that can tell (api doc §8):

=============================================  ================================================
answer                                          create_user raises / returns
=============================================  ================================================
422 ``email_exists``                            ours (same ``app_metadata`` marker) → the user;
                                                else DuplicateEmailError
500 (``unexpected_failure``, a legacy SQLSTATE  lookup: ours → the user; someone else's →
or no code)                                     DuplicateUserIdError; nobody → AuthDatabase-
                                                RefusedError (a trigger / constraint on
                                                auth.users); lookup impossible → AuthAmbiguous
sent, no trustworthy answer: 502/503/504,       lookup: ours → the user; someone else's →
52x/530, other 5xx, read timeout, dropped       DuplicateUserIdError; nobody → AuthUnavailable-
connection, total deadline                      Error (retry; ``user_may_exist``); impossible →
                                                AuthAmbiguousError / AuthDeadlineExceededError
not sent: connection refused, DNS, connect      AuthUnavailableError
timeout
429                                             AuthRateLimitedError(retry_after)
401 / 403 (JSON or not)                         AuthRejectedError (the key, or a proxy)
not Supabase Auth's JSON (HTML 200, HTML 404,   AuthBadResponseError
a body the client cannot read as a user)
other 4xx                                       AuthRejectedError
stop event set                                  lookup (not cancellable, bounded): ours → the
                                                user; else AuthCancelledError
=============================================  ================================================

``delete_user``: 404 → False; 500 → lookup: still there → AuthDeleteBlockedError (a foreign
key without cascade, or a trigger), gone → True; no trustworthy answer → lookup: gone → True,
there → AuthUnavailableError, impossible → AuthAmbiguousError. ``get_user``: 404 → None;
failures without an answer → AuthUnavailableError (a read has no ambiguous outcome).
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthError

from synthadmin.auth.base import APP_METADATA_KEY, AuthUserInfo, NewAuthUser
from synthadmin.auth.transport import CallScope, call_scope, http_client
from synthadmin.exceptions import (
    AuthAmbiguousError,
    AuthBadResponseError,
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthDeleteBlockedError,
    AuthGatewayError,
    AuthRateLimitedError,
    AuthRejectedError,
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

#: Statuses after which a request may or may not have been carried out (gateways, timeouts).
_NO_TRUSTWORTHY_ANSWER = frozenset({502, 503, 504, 520, 521, 522, 523, 524, 530})


# --- what an answer proves -----------------------------------------------------------------
CANCELLED = "cancelled"
DEADLINE = "deadline"
NOT_SENT = "not_sent"
NO_ANSWER = "no_answer"
RATE_LIMITED = "rate_limited"
KEY_REFUSED = "key_refused"
BAD_RESPONSE = "bad_response"
NOT_FOUND = "not_found"
EMAIL_EXISTS = "email_exists"
SERVER_ERROR = "server_error"
INVALID = "invalid"


@dataclass(frozen=True)
class Verdict:
    """What one failed HTTP exchange proves, before any lookup."""

    kind: str
    sent: bool
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    content_type: str = ""
    reason: str = ""  # not sent: why the connect failed ("name not resolved", "connection refused"...)


def _classify(exc: BaseException, scope: CallScope) -> Verdict:
    """The one place that reads a failed exchange: scope (deadline, stop, sent, raw answer)
    first, then status, error code and body shape. Never the message text."""
    if scope.ended_by == "cancelled":
        return Verdict(CANCELLED, scope.sent)
    if scope.ended_by == "deadline":
        return Verdict(DEADLINE, scope.sent)
    if _transport_failure(exc):
        if scope.sent:
            return Verdict(NO_ANSWER, True)
        return Verdict(NOT_SENT, False, reason=scope.connect_failure)
    response = scope.response
    if response is None:  # not an HTTP failure and no answer: nothing was exchanged
        return Verdict(NOT_SENT, scope.sent)
    status = response.status_code
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    body = _json_object(response)
    code = _error_code(body)
    if status == 429:
        return Verdict(RATE_LIMITED, True, status, code, _retry_after(response.headers))
    if status in (401, 403):
        return Verdict(KEY_REFUSED, True, status, code, content_type=content_type)
    if body is None:
        if status in _NO_TRUSTWORTHY_ANSWER or status >= 500:
            return Verdict(NO_ANSWER, True, status, None, content_type=content_type)
        return Verdict(BAD_RESPONSE, True, status, None, content_type=content_type)
    if status < 400:  # JSON, but not what the client expected (a user object)
        return Verdict(BAD_RESPONSE, True, status, code, content_type=content_type)
    if status == 404 and code == "user_not_found":
        return Verdict(NOT_FOUND, True, status, code)
    if status == 422 and code == "email_exists":
        return Verdict(EMAIL_EXISTS, True, status, code)
    if status in _NO_TRUSTWORTHY_ANSWER:
        return Verdict(NO_ANSWER, True, status, code)
    if status == 500:
        return Verdict(SERVER_ERROR, True, status, code)
    if status > 500:
        return Verdict(NO_ANSWER, True, status, code)
    if status == 404:  # GoTrue's JSON, but not "no such user": the route (URL) is wrong
        return Verdict(BAD_RESPONSE, True, status, code, content_type=content_type)
    return Verdict(INVALID, True, status, code)


def _transport_failure(exc: BaseException) -> bool:
    """The exchange failed below HTTP (no complete answer): an httpx transport error among the
    explicit causes (``raise ... from``). Only causes: the implicit context may be an earlier,
    unrelated failure (a lookup runs while the failure of the create is being handled)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, httpx.TransportError):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(response.content)
    except (ValueError, httpx.ResponseNotRead, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _error_code(body: Mapping[str, Any] | None) -> str | None:
    """GoTrue's error code in either body shape: 2024 ``code`` (a string), legacy ``error_code``,
    or the SQLSTATE string a legacy body carries for a Postgres error."""
    if not body:
        return None
    for key in ("code", "error_code"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return float(max((when - datetime.now(UTC)).total_seconds(), 0.0))


# --- the gateway ---------------------------------------------------------------------------
class SupabaseAuthGateway:
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
        self._cancel = cancel
        self._http = http_client(timeout=timeout)
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
                "service-role key (Project Settings → API), or use SYNTHADMIN_AUTH_BACKEND=local"
            )
        return cls(
            url=settings.SUPABASE_URL,
            key=settings.SUPABASE_SERVICE_ROLE_KEY,
            deadline_seconds=settings.SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS,
            cancel=cancel,
        )

    def __repr__(self) -> str:  # never show the key
        return f"SupabaseAuthGateway(url={self._url!r})"

    def __enter__(self) -> SupabaseAuthGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def deadline_seconds(self) -> float:
        return self._deadline

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
            if verdict.kind == NOT_FOUND:
                return None
            raise self._error(verdict, "look up a user", read=True) from failed.cause
        return AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json"))

    def delete_user(self, user_id: uuid.UUID) -> bool:
        try:
            self._exchange(
                lambda: self._admin.delete_user(str(user_id), should_soft_delete=False),
                deadline=self._deadline - self._reserve,
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
            if failed.verdict.kind != NOT_FOUND:
                raise self._preflight_error(failed.verdict) from failed.cause
        self._preflight_passed = True

    def close(self) -> None:
        self._http.close()

    # --- one HTTP exchange -------------------------------------------------------------
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
                raise _Failed(_classify(exc, scope), exc) from exc

    def _lookup_to_settle(
        self, user_id: uuid.UUID, verdict: Verdict
    ) -> tuple[str, AuthUserInfo | None, Verdict | None]:
        """One bounded, non-cancellable lookup after ``verdict``:
        ("found", user) / ("absent", None, None) / ("unknown", None, the lookup's verdict)."""
        seconds = self._reserve
        if verdict.kind == CANCELLED:
            seconds = min(seconds, CANCEL_RESOLVE_SECONDS)
        try:
            response = self._exchange(
                lambda: self._admin.get_user_by_id(str(user_id)), deadline=seconds, cancellable=False
            )
        except _Failed as failed:
            if failed.verdict.kind == NOT_FOUND:
                return "absent", None, None
            return "unknown", None, failed.verdict
        return "found", AuthUserInfo.from_gotrue_json(response.user.model_dump(mode="json")), None

    # --- create ------------------------------------------------------------------------
    def _create_failed(self, user: NewAuthUser, failed: _Failed) -> AuthUserInfo:
        verdict, cause = failed.verdict, failed.cause
        settles = {EMAIL_EXISTS, SERVER_ERROR, NO_ANSWER}
        if verdict.sent:  # cut short after the request went out: only a lookup can tell
            settles |= {DEADLINE, CANCELLED}
        if verdict.kind not in settles:
            raise self._error(verdict, "create user", created_maybe=verdict.sent) from cause

        found, existing, lookup = self._lookup_to_settle(user.id, verdict)
        if (
            found == "found"
            and existing is not None
            and _same_marker(existing.app_metadata, user.app_metadata)
        ):
            logger.info("user %s was created although the answer said otherwise; taking it", user.id)
            return existing
        if verdict.kind == EMAIL_EXISTS:
            # A lookup that could not answer leaves open that the e-mail is our own earlier
            # attempt's (created although its answer was lost): the user may exist.
            raise DuplicateEmailError(
                "Supabase Auth: a user with this e-mail address already exists",
                status=verdict.status,
                code=verdict.code,
                user_may_exist=found == "unknown",
            ) from cause
        if verdict.kind == CANCELLED:
            raise AuthCancelledError(
                f"stopped while creating user {user.id}"
                + (": it may have been created; purge resolves it" if found != "found" else ""),
                user_may_exist=found != "found",
            ) from cause
        if found == "found":
            raise DuplicateUserIdError(
                f"user id {user.id} already belongs to another Auth user",
                status=verdict.status,
                code=verdict.code,
            ) from cause
        if found == "absent":
            if verdict.kind == SERVER_ERROR:
                raise AuthDatabaseRefusedError(
                    "Supabase Auth's database refused the new user (500, and no user has the id "
                    "afterwards): most likely a trigger on auth.users (e.g. a signup trigger that "
                    "writes to another table) raised, or a constraint added to auth.users failed; "
                    "retrying will not help — check the project's triggers and constraints on auth.users",
                    status=verdict.status,
                    code=verdict.code,
                ) from cause
            raise AuthUnavailableError(
                f"Supabase Auth gave no answer to creating user {user.id} ({_what(verdict)}) and "
                "has no such user yet; retry the same request",
                status=verdict.status,
                code=verdict.code,
                user_may_exist=True,
            ) from cause
        # The lookup could not answer either.
        if lookup is not None and lookup.kind == RATE_LIMITED:
            raise AuthRateLimitedError(
                f"Supabase Auth rate-limited the lookup that settles creating user {user.id}; "
                "the user may have been created",
                retry_after=lookup.retry_after,
                status=lookup.status,
                code=lookup.code,
                user_may_exist=True,
            ) from cause
        error_type = AuthDeadlineExceededError if verdict.kind == DEADLINE else AuthAmbiguousError
        raise error_type(
            f"Supabase Auth gave no answer to creating user {user.id} ({_what(verdict)}) and the "
            "lookup that would settle it failed too: the user may have been created; keep the "
            "intent, a retry or a purge resolves it",
            status=verdict.status,
            code=verdict.code,
            user_may_exist=True,
        ) from cause

    # --- delete ------------------------------------------------------------------------
    def _delete_failed(self, user_id: uuid.UUID, failed: _Failed) -> bool:
        verdict, cause = failed.verdict, failed.cause
        if verdict.kind == NOT_FOUND:
            return False
        settles = {SERVER_ERROR, NO_ANSWER}
        if verdict.sent:
            settles |= {DEADLINE, CANCELLED}
        if verdict.kind not in settles:
            raise self._error(verdict, "delete user") from cause
        found, _existing, _lookup = self._lookup_to_settle(user_id, verdict)
        if found == "absent":
            return True  # the delete happened although the answer said otherwise
        if verdict.kind == CANCELLED:
            raise AuthCancelledError(
                f"stopped while deleting user {user_id}", user_may_exist=found != "absent"
            ) from cause
        if found == "found" and verdict.kind == SERVER_ERROR:
            raise AuthDeleteBlockedError(
                f"Supabase Auth could not delete user {user_id} (500, and the user is still there): "
                "most likely a foreign key without ON DELETE CASCADE references it from another "
                "table, or a trigger refused the delete",
                status=verdict.status,
                code=verdict.code,
                user_may_exist=True,
            ) from cause
        if found == "found":
            raise AuthUnavailableError(
                f"Supabase Auth gave no answer to deleting user {user_id} ({_what(verdict)}); it "
                "is still there: retry",
                status=verdict.status,
                code=verdict.code,
                user_may_exist=True,
            ) from cause
        error_type = AuthDeadlineExceededError if verdict.kind == DEADLINE else AuthAmbiguousError
        raise error_type(
            f"Supabase Auth gave no answer to deleting user {user_id} ({_what(verdict)}): it may "
            "or may not have been deleted",
            status=verdict.status,
            code=verdict.code,
            user_may_exist=True,
        ) from cause

    # --- the error for a verdict that needs no lookup ------------------------------------
    def _error(
        self, verdict: Verdict, action: str, *, read: bool = False, created_maybe: bool = False
    ) -> AuthGatewayError:
        status, code = verdict.status, verdict.code
        kind = verdict.kind
        if kind == CANCELLED:
            return AuthCancelledError(f"stopped while trying to {action}", user_may_exist=False)
        if kind == DEADLINE:
            return AuthDeadlineExceededError(
                f"Supabase Auth did not answer within the {self._deadline:g} s deadline "
                f"(SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS) when trying to {action}",
                user_may_exist=False if read else verdict.sent,
            )
        if kind == NOT_SENT:
            return AuthUnavailableError(
                f"cannot reach Supabase Auth at {self._url_shown} to {action} "
                f"({verdict.reason or 'connection failed'}): check that SUPABASE_URL is right and reachable",
                user_may_exist=False,
            )
        if kind == NO_ANSWER:
            return AuthUnavailableError(
                f"Supabase Auth gave no answer when trying to {action} ({_what(verdict)})",
                status=status,
                code=code,
            )
        if kind == RATE_LIMITED:
            wait = f"; Retry-After {verdict.retry_after:g} s" if verdict.retry_after is not None else ""
            return AuthRateLimitedError(
                f"Supabase Auth is rate limiting (429) when trying to {action}{wait}",
                retry_after=verdict.retry_after,
                status=status,
                code=code,
            )
        if kind == KEY_REFUSED:
            return AuthRejectedError(self._key_refused(verdict), status=status, code=code)
        if kind == BAD_RESPONSE:
            return AuthBadResponseError(
                f"the answer to '{action}' is not Supabase Auth's ({status}, {_body(verdict)}): "
                "check that SUPABASE_URL is the project URL (https://<ref>.supabase.co) and that "
                "nothing in between rewrites answers",
                status=status,
                code=code,
                user_may_exist=created_maybe and status is not None and status < 300,
            )
        if kind == SERVER_ERROR:
            return AuthUnavailableError(
                f"Supabase Auth failed when trying to {action} (internal error)", status=status, code=code
            )
        return AuthRejectedError(f"Supabase Auth refused the request to {action}", status=status, code=code)

    def _key_refused(self, verdict: Verdict) -> str:
        """The one line for a 401/403: the URL and the variable to check, never the key."""
        status, code = verdict.status, verdict.code
        origin = "" if code else f", answered by something other than Supabase Auth ({_body(verdict)})"
        if code == "not_admin":  # a valid JWT of the project without an admin role: the anon key
            origin = ": a key of that project without the service_role role, e.g. the anon key"
        return self._redact(
            f"Supabase Auth at {self._url_shown} refused the service-role key "
            f"({status} {code or 'no code'}{origin}): check SUPABASE_SERVICE_ROLE_KEY is the "
            "service_role key of that project (not the anon key) and SUPABASE_URL is that project's URL"
        )

    def _preflight_error(self, verdict: Verdict) -> AuthGatewayError:
        """The error for a preflight answer other than "no such user" (see ``preflight``)."""
        url, status, code, kind = self._url_shown, verdict.status, verdict.code, verdict.kind
        if kind == NOT_SENT:
            return AuthUnavailableError(
                f"cannot reach Supabase Auth at {url} ({verdict.reason or 'connection failed'}): "
                "check SUPABASE_URL and that the project is up",
                user_may_exist=False,
            )
        if kind == DEADLINE:
            return AuthDeadlineExceededError(
                f"Supabase Auth at {url} did not answer within {self._deadline:g} s "
                "(SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS): check SUPABASE_URL and that the project is up",
                user_may_exist=False,
            )
        if kind in (NO_ANSWER, SERVER_ERROR):
            return AuthUnavailableError(
                f"Supabase Auth at {url} gave no usable answer ({_what(verdict)}): check that the "
                "project is up and SUPABASE_URL is its URL, then run again",
                status=status,
                code=code,
                user_may_exist=False,
            )
        if kind == RATE_LIMITED:
            return AuthRateLimitedError(
                f"Supabase Auth at {url} kept answering 429 (rate limited): wait a minute, then run again",
                retry_after=verdict.retry_after,
                status=status,
                code=code,
            )
        if kind == KEY_REFUSED:
            return AuthRejectedError(self._key_refused(verdict), status=status, code=code)
        if kind == BAD_RESPONSE:
            return AuthBadResponseError(
                f"the answer of {url} to an Auth admin request is not Supabase Auth's ({status}, "
                f"{_body(verdict)}): check that SUPABASE_URL is the project URL (https://<ref>.supabase.co)",
                status=status,
                code=code,
            )
        if kind == CANCELLED:
            return AuthCancelledError("stopped while checking Supabase Auth", user_may_exist=False)
        return AuthRejectedError(
            f"Supabase Auth at {url} refused an admin request ({status} {code or 'no code'}): "
            "check that SUPABASE_URL is the project URL (https://<ref>.supabase.co)",
            status=status,
            code=code,
        )

    def _redact(self, text: str) -> str:
        """``text`` without this gateway's key in any spelling (raw, repr, quoted, JSON-escaped)."""
        return redact(text, [self._key]) if self._key else text


@dataclass
class _Failed(Exception):
    """Internal: one exchange failed; ``verdict`` says what its answer proves."""

    verdict: Verdict
    cause: BaseException


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


def _what(verdict: Verdict) -> str:
    if verdict.kind == DEADLINE:
        return "total deadline passed"
    if verdict.kind == CANCELLED:
        return "stopped"
    if verdict.status:
        return f"HTTP {verdict.status}"
    return "connection lost or timed out after the request was sent"


def _body(verdict: Verdict) -> str:
    return f"{verdict.content_type} body" if verdict.content_type else "a body that is not JSON"


def _same_marker(existing: Mapping[str, Any], requested: Mapping[str, Any]) -> bool:
    mine = requested.get(APP_METADATA_KEY)
    return mine is not None and existing.get(APP_METADATA_KEY) == mine


__all__ = ["SupabaseAuthGateway", "Verdict"]
