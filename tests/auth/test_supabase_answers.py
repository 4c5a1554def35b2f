"""What an Auth answer proves, and the error its verdict becomes, as pure functions: the call's
scope and the raw answer in, a ``Verdict`` out (never from message text); one catalogue of
errors for a call and for the preflight, the key never shown. No database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from synthadmin.auth.supabase_answers import Verdict, VerdictKind, classify, retry_after
from synthadmin.auth.supabase_errors import Asked, verdict_error
from synthadmin.auth.transport import CallScope
from synthadmin.exceptions import (
    AuthBadResponseError,
    AuthCancelledError,
    AuthDeadlineExceededError,
    AuthRateLimitedError,
    AuthRejectedError,
    AuthUnavailableError,
)

KEY = "service-role-key-that-must-never-show-0123456789"


def answered(
    status: int, body: bytes = b"", content_type: str = "application/json", **headers: str
) -> CallScope:
    response = httpx.Response(status, headers={"content-type": content_type, **headers}, content=body)
    return CallScope(sent=True, response=response)


def transport_failure() -> Exception:
    try:
        raise httpx.ConnectError("refused")
    except httpx.ConnectError as exc:
        wrapped = RuntimeError("the client's own error")
        wrapped.__cause__ = exc
        return wrapped


@pytest.mark.parametrize(
    ("scope", "kind", "code"),
    [
        (CallScope(sent=True, ended_by="cancelled"), VerdictKind.CANCELLED, None),
        (CallScope(sent=False, ended_by="deadline"), VerdictKind.DEADLINE, None),
        (
            answered(429, b'{"code": "over_request_rate_limit"}'),
            VerdictKind.RATE_LIMITED,
            "over_request_rate_limit",
        ),
        (answered(401, b"<html>", "text/html"), VerdictKind.KEY_REFUSED, None),
        (answered(403, b'{"code": "not_admin"}'), VerdictKind.KEY_REFUSED, "not_admin"),
        (answered(200, b"<html>", "text/html"), VerdictKind.BAD_RESPONSE, None),
        (answered(404, b'{"code": "user_not_found"}'), VerdictKind.NOT_FOUND, "user_not_found"),
        (answered(404, b'{"code": "no_route"}'), VerdictKind.BAD_RESPONSE, "no_route"),
        (answered(422, b'{"error_code": "email_exists"}'), VerdictKind.EMAIL_EXISTS, "email_exists"),
        (answered(500, b'{"code": "23505"}'), VerdictKind.SERVER_ERROR, "23505"),
        (answered(502, b"bad gateway", "text/plain"), VerdictKind.NO_ANSWER, None),
        (answered(504, b'{"code": "request_timeout"}'), VerdictKind.NO_ANSWER, "request_timeout"),
        (answered(400, b'{"code": "validation_failed"}'), VerdictKind.INVALID, "validation_failed"),
    ],
)
def test_an_answer_is_read_by_status_code_and_body_shape(scope, kind, code):
    verdict = classify(RuntimeError("any words at all"), scope)
    assert (verdict.kind, verdict.code) == (kind, code)


def test_a_transport_failure_among_the_causes_is_not_sent_or_no_answer():
    assert classify(
        transport_failure(), CallScope(sent=False, connect_failure="connection refused")
    ) == Verdict(VerdictKind.NOT_SENT, False, reason="connection refused")
    assert classify(transport_failure(), CallScope(sent=True)).kind == VerdictKind.NO_ANSWER


def test_an_earlier_transport_failure_in_the_context_only_is_not_ours():
    try:
        try:
            raise httpx.ConnectError("an earlier, unrelated failure")
        except httpx.ConnectError:
            raise RuntimeError("this call's own failure") from None
    except RuntimeError as exc:
        verdict = classify(exc, answered(500, b'{"code": "unexpected_failure"}'))
    assert verdict.kind == VerdictKind.SERVER_ERROR


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after(httpx.Headers({"Retry-After": "-3"})) == 0.0
    assert retry_after(httpx.Headers({})) is None
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(httpx.Headers({"Retry-After": later})) or 0) <= 30


CALL = Asked(url="https://ref.supabase.co", deadline=30.0, key=KEY, action="create user")
PREFLIGHT = Asked(url="https://ref.supabase.co", deadline=30.0, key=KEY)


@pytest.mark.parametrize(
    ("verdict", "error_type"),
    [
        (Verdict(VerdictKind.CANCELLED, False), AuthCancelledError),
        (Verdict(VerdictKind.DEADLINE, False), AuthDeadlineExceededError),
        (Verdict(VerdictKind.NOT_SENT, False, reason="name not resolved"), AuthUnavailableError),
        (Verdict(VerdictKind.NO_ANSWER, True, 503), AuthUnavailableError),
        (Verdict(VerdictKind.SERVER_ERROR, True, 500, "unexpected_failure"), AuthUnavailableError),
        (Verdict(VerdictKind.RATE_LIMITED, True, 429, retry_after=2.0), AuthRateLimitedError),
        (Verdict(VerdictKind.KEY_REFUSED, True, 403, "not_admin"), AuthRejectedError),
        (Verdict(VerdictKind.BAD_RESPONSE, True, 200, content_type="text/html"), AuthBadResponseError),
        (Verdict(VerdictKind.INVALID, True, 400, "validation_failed"), AuthRejectedError),
    ],
)
def test_one_catalogue_for_a_call_and_for_the_preflight(verdict, error_type):
    for_call, for_preflight = verdict_error(verdict, CALL), verdict_error(verdict, PREFLIGHT)
    assert type(for_call) is type(for_preflight) is error_type
    assert (
        (for_call.status, for_call.code)
        == (for_preflight.status, for_preflight.code)
        == (
            verdict.status,
            verdict.code,
        )
    )
    assert for_preflight.user_may_exist is False
    for error in (for_call, for_preflight):
        assert "\n" not in error.message and KEY not in error.message
    if verdict.kind not in (VerdictKind.CANCELLED, VerdictKind.KEY_REFUSED):
        assert "create user" in for_call.message and "create user" not in for_preflight.message
    if error_type is AuthRateLimitedError:
        assert for_call.retry_after == for_preflight.retry_after == 2.0


def test_only_a_create_that_may_have_written_may_have_left_a_user():
    sent_deadline = Verdict(VerdictKind.DEADLINE, True)
    read = Asked(url=CALL.url, deadline=CALL.deadline, action="look up a user", read=True)
    assert verdict_error(sent_deadline, CALL).user_may_exist is True
    assert verdict_error(sent_deadline, read).user_may_exist is False
    unreadable_2xx = Verdict(VerdictKind.BAD_RESPONSE, True, 200, content_type="text/html")
    maybe_created = Asked(url=CALL.url, deadline=CALL.deadline, action="create user", created_maybe=True)
    assert verdict_error(unreadable_2xx, maybe_created).user_may_exist is True
    assert verdict_error(unreadable_2xx, CALL).user_may_exist is False


def test_the_key_never_shows_and_asked_never_prints_it():
    verdict = Verdict(VerdictKind.NOT_SENT, False, reason=f"proxy said {KEY}")
    assert KEY not in verdict_error(verdict, CALL).message
    assert KEY not in repr(CALL)
