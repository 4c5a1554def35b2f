"""The error the Supabase gateway raises for a verdict that needs no lookup: one catalogue.

Each verdict kind has one error class and two sentences from the same table: one for a call
(what was being done) and one for the preflight (the URL, and what to fix before a run).
No message ever shows the service-role key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthadmin.auth.supabase_answers import Verdict, VerdictKind
from synthadmin.exceptions import (
    AuthBadResponseError,
    AuthCancelledError,
    AuthDeadlineExceededError,
    AuthGatewayError,
    AuthRateLimitedError,
    AuthRejectedError,
    AuthUnavailableError,
)
from synthadmin.redaction import redact


@dataclass(frozen=True)
class Asked:
    """What the gateway was doing when the answer came, in the words its messages use."""

    url: str
    """``SUPABASE_URL`` as messages show it (no user, password, query or fragment)."""
    deadline: float
    key: str = field(default="", repr=False)
    """The service-role key: redacted from every message, in any spelling."""
    action: str = ""
    """``"create user"``, ``"delete user"``, ``"look up a user"``; ``""`` for the preflight."""
    read: bool = False
    created_maybe: bool = False
    """A create whose request went out: a 2xx answer the client cannot read may hide a user."""

    @property
    def preflight(self) -> bool:
        return not self.action


@dataclass(frozen=True)
class _Sentences:
    error: type[AuthGatewayError]
    call: str
    preflight: str
    answered: bool = True
    """False: no answer came back, so the error carries no status or code."""


_CHECK_URL = "check that SUPABASE_URL is the project URL (https://<ref>.supabase.co)"
_CHECK_UP = "check SUPABASE_URL and that the project is up"
_NO_USABLE_ANSWER = (
    "Supabase Auth at {url} gave no usable answer ({what}): check that the project is up and "
    "SUPABASE_URL is its URL, then run again"
)
_KEY_REFUSED = (
    "Supabase Auth at {url} refused the service-role key ({status} {code}{origin}): check "
    "SUPABASE_SERVICE_ROLE_KEY is the service_role key of that project (not the anon key) and "
    "SUPABASE_URL is that project's URL"
)

#: Verdict kind → error class, the sentence for a call, the sentence for the preflight.
CATALOGUE: dict[VerdictKind, _Sentences] = {
    VerdictKind.CANCELLED: _Sentences(
        AuthCancelledError,
        "stopped while trying to {action}",
        "stopped while checking Supabase Auth",
        answered=False,
    ),
    VerdictKind.DEADLINE: _Sentences(
        AuthDeadlineExceededError,
        "Supabase Auth did not answer within the {deadline:g} s deadline "
        "(SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS) when trying to {action}",
        "Supabase Auth at {url} did not answer within {deadline:g} s "
        "(SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS): " + _CHECK_UP,
        answered=False,
    ),
    VerdictKind.NOT_SENT: _Sentences(
        AuthUnavailableError,
        "cannot reach Supabase Auth at {url} to {action} ({reason}): "
        "check that SUPABASE_URL is right and reachable",
        "cannot reach Supabase Auth at {url} ({reason}): " + _CHECK_UP,
        answered=False,
    ),
    VerdictKind.NO_ANSWER: _Sentences(
        AuthUnavailableError,
        "Supabase Auth gave no answer when trying to {action} ({what})",
        _NO_USABLE_ANSWER,
    ),
    VerdictKind.SERVER_ERROR: _Sentences(
        AuthUnavailableError,
        "Supabase Auth failed when trying to {action} (internal error)",
        _NO_USABLE_ANSWER,
    ),
    VerdictKind.RATE_LIMITED: _Sentences(
        AuthRateLimitedError,
        "Supabase Auth is rate limiting (429) when trying to {action}{wait}",
        "Supabase Auth at {url} kept answering 429 (rate limited): wait a minute, then run again",
    ),
    VerdictKind.KEY_REFUSED: _Sentences(AuthRejectedError, _KEY_REFUSED, _KEY_REFUSED),
    VerdictKind.BAD_RESPONSE: _Sentences(
        AuthBadResponseError,
        "the answer to '{action}' is not Supabase Auth's ({status}, {body}): "
        + _CHECK_URL
        + " and that nothing in between rewrites answers",
        "the answer of {url} to an Auth admin request is not Supabase Auth's ({status}, {body}): "
        + _CHECK_URL,
    ),
}
#: Any other verdict (another 4xx of Supabase Auth): the request itself was refused.
REFUSED = _Sentences(
    AuthRejectedError,
    "Supabase Auth refused the request to {action}",
    "Supabase Auth at {url} refused an admin request ({status} {code}): " + _CHECK_URL,
)


def verdict_error(verdict: Verdict, asked: Asked) -> AuthGatewayError:
    """The typed error for ``verdict``, its one-line message from the catalogue."""
    sentences = CATALOGUE.get(verdict.kind, REFUSED)
    template = sentences.preflight if asked.preflight else sentences.call
    message = template.format(**_words(verdict, asked))
    if asked.key:
        message = redact(message, [asked.key])
    common: dict[str, Any] = {"user_may_exist": _may_exist(verdict, asked)}
    if sentences.answered:
        common.update(status=verdict.status, code=verdict.code)
    if sentences.error is AuthRateLimitedError:
        return AuthRateLimitedError(message, retry_after=verdict.retry_after, **common)
    return sentences.error(message, **common)


def described(verdict: Verdict) -> str:
    """What came back, in a few words: ``HTTP 503``, ``total deadline passed``..."""
    if verdict.kind == VerdictKind.DEADLINE:
        return "total deadline passed"
    if verdict.kind == VerdictKind.CANCELLED:
        return "stopped"
    if verdict.status:
        return f"HTTP {verdict.status}"
    return "connection lost or timed out after the request was sent"


def _words(verdict: Verdict, asked: Asked) -> dict[str, Any]:
    code = verdict.code
    origin = "" if code else f", answered by something other than Supabase Auth ({_body(verdict)})"
    if code == "not_admin":  # a valid JWT of the project without an admin role: the anon key
        origin = ": a key of that project without the service_role role, e.g. the anon key"
    wait = f"; Retry-After {verdict.retry_after:g} s" if verdict.retry_after is not None else ""
    return {
        "action": asked.action,
        "url": asked.url,
        "deadline": asked.deadline,
        "reason": verdict.reason or "connection failed",
        "what": described(verdict),
        "wait": wait,
        "status": verdict.status,
        "code": code or "no code",
        "origin": origin,
        "body": _body(verdict),
    }


def _may_exist(verdict: Verdict, asked: Asked) -> bool:
    """Whether the user may exist although the call raised: never after a read (the preflight
    is one); after a create or delete cut short by the deadline once sent, or answered 2xx in a
    shape the client cannot read."""
    if asked.read or asked.preflight:
        return False
    if verdict.kind == VerdictKind.DEADLINE:
        return verdict.sent
    if verdict.kind == VerdictKind.BAD_RESPONSE:
        return asked.created_maybe and verdict.status is not None and verdict.status < 300
    return False


def _body(verdict: Verdict) -> str:
    return f"{verdict.content_type} body" if verdict.content_type else "a body that is not JSON"


__all__ = ["CATALOGUE", "REFUSED", "Asked", "described", "verdict_error"]
