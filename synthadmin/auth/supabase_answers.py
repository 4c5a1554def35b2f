"""What a failed exchange with Supabase Auth proves: ``VerdictKind``, ``Verdict``, ``classify``.

Pure (no I/O): it reads the call's scope and the raw answer, never a message text. The table of
what each verdict becomes is in ``docs/auth-admin-api.md`` ("How synthadmin classifies answers").
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from synthadmin.auth.transport import CallScope
from synthadmin.db.errors import error_chain

#: Statuses after which a request may or may not have been carried out (gateways, timeouts).
NO_TRUSTWORTHY_ANSWER = frozenset({502, 503, 504, 520, 521, 522, 523, 524, 530})


class VerdictKind(StrEnum):
    """What one failed exchange proves, before any lookup."""

    CANCELLED = "cancelled"  # the stop event ended the call
    DEADLINE = "deadline"  # the call's total deadline passed
    NOT_SENT = "not_sent"  # nothing reached the server
    NO_ANSWER = "no_answer"  # sent, and no trustworthy answer came back
    RATE_LIMITED = "rate_limited"  # 429
    KEY_REFUSED = "key_refused"  # 401 / 403
    BAD_RESPONSE = "bad_response"  # not Supabase Auth's JSON
    NOT_FOUND = "not_found"  # 404 user_not_found
    EMAIL_EXISTS = "email_exists"  # 422 email_exists
    SERVER_ERROR = "server_error"  # 500 of Supabase Auth itself
    INVALID = "invalid"  # any other 4xx of Supabase Auth


class LookupOutcome(StrEnum):
    """What the lookup that settles an ambiguous create or delete found at the id."""

    FOUND = "found"
    ABSENT = "absent"
    UNKNOWN = "unknown"  # the lookup could not answer either


@dataclass(frozen=True)
class Verdict:
    """What one failed HTTP exchange proves, before any lookup."""

    kind: VerdictKind
    sent: bool
    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    content_type: str = ""
    reason: str = ""  # not sent: why the connect failed ("name not resolved", "connection refused"...)


def classify(exc: BaseException, scope: CallScope) -> Verdict:
    """The one place that reads a failed exchange: scope (deadline, stop, sent, raw answer)
    first, then status, error code and body shape. Never the message text."""
    if scope.ended_by == "cancelled":
        return Verdict(VerdictKind.CANCELLED, scope.sent)
    if scope.ended_by == "deadline":
        return Verdict(VerdictKind.DEADLINE, scope.sent)
    if _transport_failure(exc):
        if scope.sent:
            return Verdict(VerdictKind.NO_ANSWER, True)
        return Verdict(VerdictKind.NOT_SENT, False, reason=scope.connect_failure)
    response = scope.response
    if response is None:  # not an HTTP failure and no answer: nothing was exchanged
        return Verdict(VerdictKind.NOT_SENT, scope.sent)
    status = response.status_code
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    body = _json_object(response)
    code = _error_code(body)
    if status == 429:
        return Verdict(VerdictKind.RATE_LIMITED, True, status, code, retry_after(response.headers))
    if status in (401, 403):
        return Verdict(VerdictKind.KEY_REFUSED, True, status, code, content_type=content_type)
    if body is None:
        if status in NO_TRUSTWORTHY_ANSWER or status >= 500:
            return Verdict(VerdictKind.NO_ANSWER, True, status, None, content_type=content_type)
        return Verdict(VerdictKind.BAD_RESPONSE, True, status, None, content_type=content_type)
    if status < 400:  # JSON, but not what the client expected (a user object)
        return Verdict(VerdictKind.BAD_RESPONSE, True, status, code, content_type=content_type)
    if status == 404 and code == "user_not_found":
        return Verdict(VerdictKind.NOT_FOUND, True, status, code)
    if status == 422 and code == "email_exists":
        return Verdict(VerdictKind.EMAIL_EXISTS, True, status, code)
    if status in NO_TRUSTWORTHY_ANSWER:
        return Verdict(VerdictKind.NO_ANSWER, True, status, code)
    if status == 500:
        return Verdict(VerdictKind.SERVER_ERROR, True, status, code)
    if status > 500:
        return Verdict(VerdictKind.NO_ANSWER, True, status, code)
    if status == 404:  # GoTrue's JSON, but not "no such user": the route (URL) is wrong
        return Verdict(VerdictKind.BAD_RESPONSE, True, status, code, content_type=content_type)
    return Verdict(VerdictKind.INVALID, True, status, code)


def retry_after(headers: httpx.Headers) -> float | None:
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


def _transport_failure(exc: BaseException) -> bool:
    """The exchange failed below HTTP (no complete answer): an httpx transport error among the
    explicit causes (``raise ... from``). Only causes: the implicit context may be an earlier,
    unrelated failure (a lookup runs while the failure of the create is being handled)."""
    return any(isinstance(error, httpx.TransportError) for error in error_chain(exc, implicit=False))


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


__all__ = ["NO_TRUSTWORTHY_ANSWER", "LookupOutcome", "Verdict", "VerdictKind", "classify", "retry_after"]
