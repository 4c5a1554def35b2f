"""The Supabase gateway classifies each answer by what it proves (issue 9, api doc §6-§8).

Case by case, over real HTTP: the official ``supabase`` client inside our gateway, against the
Auth test server writing real ``auth.users`` rows. Each case arranges a fault, makes one gateway
call, and checks the typed error (its exact class, status, code, ``user_may_exist``), how many
requests reached the server, and what is stored — never the words of a message, except that it
is one line and never shows the service-role key.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from django.db import connection

from synthadmin.auth.base import APP_METADATA_KEY, AuthUserInfo, NewAuthUser
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import (
    AuthAmbiguousError,
    AuthBadResponseError,
    AuthDatabaseRefusedError,
    AuthDeleteBlockedError,
    AuthGatewayError,
    AuthRateLimitedError,
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
)
from tests.support.gotrue import GoTrueDouble

pytestmark = pytest.mark.django_db(transaction=True)


def new_user() -> NewAuthUser:
    user_id = uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=f"case-{user_id.hex[:10]}@example.com",
        user_metadata={"name": "Case"},
        app_metadata={APP_METADATA_KEY: {"synthetic": True, "run_id": "r", "intent": 1}},
    )


def stored_ids() -> set[uuid.UUID]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM auth.users")
        return {row[0] for row in cursor.fetchall()}


@dataclass
class Case:
    """One fault, one call, one expected outcome."""

    arrange: Callable[[GoTrueDouble, NewAuthUser], Any]
    call: str = "create"  # create | delete | get
    raises: type[AuthGatewayError] | None = None
    status: int | None = None
    code: str | None = None
    user_may_exist: bool | None = None
    stored: str = "none"  # none | user | unchanged
    returns: Any = None
    requests: dict[str, int] = field(default_factory=dict)
    retry_after: float | None = None


def _nothing(gotrue, user):
    return None


def _occupy(gotrue, user):
    gotrue.faults.occupy_id(user.id)


def _own_user_exists(gotrue, user, gateway):
    gateway.create_user(user)
    gotrue.reset()


def _trigger(gotrue, user):
    return gotrue.failing_signup_trigger()


def _create_then_block(gotrue, user, gateway):
    gateway.create_user(user)
    gotrue.reset()
    return gotrue.delete_blocked(user.id)


def _stripped(where, then):
    def arrange(gotrue, user, *rest):
        arranged = then(gotrue, user, *rest)  # which may reset the server's faults
        gotrue.faults.strip_version_header(where)
        return arranged

    return arrange


def _needs_gateway(arrange):
    arrange.needs_gateway = True
    return arrange


def _http_date_ahead(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


def _duplicate_email_and_the_lookup_fails(gotrue: GoTrueDouble, user: NewAuthUser) -> None:
    gotrue.faults.duplicate_email_next()
    gotrue.faults.fail_next(1, status=503, route="get")


def _bad_gateway_and_the_lookup_fails(gotrue: GoTrueDouble, user: NewAuthUser) -> None:
    gotrue.faults.fail_next(status=502)
    gotrue.faults.fail_next(status=503, route="get")


CASES: dict[str, Case] = {
    # collisions
    "422 email_exists → DuplicateEmailError": Case(
        lambda g, u: g.faults.duplicate_email_next(),
        raises=DuplicateEmailError,
        status=422,
        code="email_exists",
        requests={"create": 1, "get": 1},
    ),
    "422 email_exists, lookup failing → DuplicateEmailError, user may exist": Case(
        _duplicate_email_and_the_lookup_fails,
        raises=DuplicateEmailError,
        status=422,
        code="email_exists",
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "422 email_exists, our own user → taken": Case(
        _needs_gateway(_own_user_exists),
        returns="user",
        stored="user",
        requests={"create": 1, "get": 1},
    ),
    "500, someone else's user at the id → DuplicateUserIdError": Case(
        _occupy,
        raises=DuplicateUserIdError,
        status=500,
        code="unexpected_failure",
        stored="unchanged",
        requests={"create": 1, "get": 1},
    ),
    # deterministic database refusal
    "500 from a failing signup trigger → AuthDatabaseRefusedError": Case(
        _trigger,
        raises=AuthDatabaseRefusedError,
        status=500,
        code="unexpected_failure",
        user_may_exist=False,
        requests={"create": 1, "get": 1},
    ),
    "500 without a user at the id → AuthDatabaseRefusedError": Case(
        lambda g, u: g.faults.fail_next(status=500, message="Database error creating new user"),
        raises=AuthDatabaseRefusedError,
        status=500,
        requests={"create": 1, "get": 1},
    ),
    # lost answers after a successful create
    "500 after the user was stored → taken": Case(
        lambda g, u: g.faults.crash_after_create_next(status=500),
        returns="user",
        stored="user",
        requests={"create": 1, "get": 1},
    ),
    "dropped connection after the user was stored → taken": Case(
        lambda g, u: g.faults.crash_after_create_next(status=None),
        returns="user",
        stored="user",
        requests={"create": 1, "get": 1},
    ),
    "504 after the user was stored → taken": Case(
        lambda g, u: g.faults.crash_after_create_next(status=504),
        returns="user",
        stored="user",
        requests={"create": 1, "get": 1},
    ),
    "read timeout, then stored by the server → taken or retryable": Case(
        lambda g, u: g.faults.timeout_next(seconds=0.6, then_process=True),
        raises=AuthUnavailableError,  # the lookup ran while the server still slept
        user_may_exist=True,
        requests={"create": 1, "get": 1},
        stored="eventually",
    ),
    # ambiguous: sent, no trustworthy answer
    "502 (gateway), nothing stored → retryable, may exist": Case(
        lambda g, u: g.faults.fail_next(status=502),
        raises=AuthUnavailableError,
        status=502,
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "503 (gateway), nothing stored → retryable, may exist": Case(
        lambda g, u: g.faults.fail_next(status=503),
        raises=AuthUnavailableError,
        status=503,
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "GoTrue's own 504 request_timeout → retryable, may exist": Case(
        lambda g, u: g.faults.fail_next(status=504),
        raises=AuthUnavailableError,
        status=504,
        code="request_timeout",
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "HTML 502 from a load balancer → retryable, may exist": Case(
        lambda g, u: g.faults.fail_next(status=502, html=True),
        raises=AuthUnavailableError,
        status=502,
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "read timeout, nothing stored → retryable, may exist": Case(
        lambda g, u: g.faults.timeout_next(seconds=0.8),
        raises=AuthUnavailableError,
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    "502 and the lookup fails too → AuthAmbiguousError": Case(
        _bad_gateway_and_the_lookup_fails,
        raises=AuthAmbiguousError,
        status=502,
        user_may_exist=True,
        requests={"create": 1, "get": 1},
    ),
    # rate limited
    "429 with Retry-After seconds → AuthRateLimitedError": Case(
        lambda g, u: g.faults.fail_next(status=429, retry_after=3),
        raises=AuthRateLimitedError,
        status=429,
        code="over_request_rate_limit",
        retry_after=3.0,
        user_may_exist=False,
        requests={"create": 1},
    ),
    "429 with Retry-After as an HTTP-date → AuthRateLimitedError": Case(
        lambda g, u: g.faults.fail_next(status=429, retry_after=_http_date_ahead(63)),
        raises=AuthRateLimitedError,
        status=429,
        retry_after=60.0,  # at least: the date is 63 s ahead, to the second
        requests={"create": 1},
    ),
    "429 without Retry-After, gateway body → AuthRateLimitedError": Case(
        lambda g, u: g.faults.fail_next(status=429, code=None),
        raises=AuthRateLimitedError,
        status=429,
        requests={"create": 1},
    ),
    # refused: stop
    "HTML 401 from a proxy → AuthRejectedError": Case(
        lambda g, u: g.faults.reject_all(401, html=True),
        raises=AuthRejectedError,
        status=401,
        requests={"create": 1},
    ),
    "HTML 403 from a proxy → AuthRejectedError": Case(
        lambda g, u: g.faults.reject_all(403, html=True),
        raises=AuthRejectedError,
        status=403,
        requests={"create": 1},
    ),
    "401 'Invalid API key' (gateway JSON, no code) → AuthRejectedError": Case(
        lambda g, u: g.faults.reject_all(401, code=None, message="Invalid API key"),
        raises=AuthRejectedError,
        status=401,
        requests={"create": 1},
    ),
    "403 not_admin → AuthRejectedError": Case(
        lambda g, u: g.faults.reject_all(403),
        raises=AuthRejectedError,
        status=403,
        code="not_admin",
        requests={"create": 1},
    ),
    "400 validation_failed → AuthRejectedError": Case(
        lambda g, u: g.faults.fail_next(status=400, code="validation_failed", message="bad"),
        raises=AuthRejectedError,
        status=400,
        code="validation_failed",
        requests={"create": 1},
    ),
    # not Supabase Auth's JSON
    "200 with an HTML page → AuthBadResponseError": Case(
        lambda g, u: g.faults.fail_next(status=200, html=True),
        raises=AuthBadResponseError,
        status=200,
        user_may_exist=True,
        requests={"create": 1},
    ),
    "404 HTML (a wrong URL) → AuthBadResponseError": Case(
        lambda g, u: g.faults.fail_next(status=404, html=True),
        raises=AuthBadResponseError,
        status=404,
        user_may_exist=False,
        requests={"create": 1},
    ),
    # the version header lost on the way out / in
    "no version header echoed: 422 → DuplicateEmailError": Case(
        _stripped("response", lambda g, u: g.faults.duplicate_email_next()),
        raises=DuplicateEmailError,
        status=422,
        code="email_exists",
        requests={"create": 1, "get": 1},
    ),
    "no version header echoed: trigger → AuthDatabaseRefusedError": Case(
        _stripped("response", _trigger),
        raises=AuthDatabaseRefusedError,
        status=500,
        code="unexpected_failure",
        requests={"create": 1, "get": 1},
    ),
    "no version header echoed: taken id → DuplicateUserIdError": Case(
        _stripped("response", _occupy),
        raises=DuplicateUserIdError,
        status=500,
        stored="unchanged",
        requests={"create": 1, "get": 1},
    ),
    "header lost on the way in (legacy bodies): 422 → DuplicateEmailError": Case(
        _stripped("in", lambda g, u: g.faults.duplicate_email_next()),
        raises=DuplicateEmailError,
        status=422,
        code="email_exists",
        requests={"create": 1, "get": 1},
    ),
    "legacy bodies: trigger (P0001 body) → AuthDatabaseRefusedError": Case(
        _stripped("in", _trigger),
        raises=AuthDatabaseRefusedError,
        status=500,
        code="P0001",
        requests={"create": 1, "get": 1},
    ),
    "legacy bodies: taken id (23505 body) → DuplicateUserIdError": Case(
        _stripped("in", _occupy),
        raises=DuplicateUserIdError,
        status=500,
        code="23505",
        stored="unchanged",
        requests={"create": 1, "get": 1},
    ),
    "legacy bodies: 429 → AuthRateLimitedError": Case(
        _stripped("in", lambda g, u: g.faults.fail_next(status=429, retry_after=2)),
        raises=AuthRateLimitedError,
        status=429,
        code="over_request_rate_limit",
        retry_after=2.0,
        requests={"create": 1},
    ),
    # delete
    "delete refused by a foreign key → AuthDeleteBlockedError": Case(
        _needs_gateway(_create_then_block),
        call="delete",
        raises=AuthDeleteBlockedError,
        status=500,
        code="unexpected_failure",
        stored="user",
        requests={"delete": 1, "get": 1},
    ),
    "legacy bodies: delete refused (23503 body) → AuthDeleteBlockedError": Case(
        _needs_gateway(_stripped("in", _create_then_block)),
        call="delete",
        raises=AuthDeleteBlockedError,
        status=500,
        code="23503",
        stored="user",
        requests={"delete": 1, "get": 1},
    ),
    "delete of an unknown id → False": Case(_nothing, call="delete", returns=False, requests={"delete": 1}),
    "delete answered 502, user still there → retryable": Case(
        _needs_gateway(
            lambda g, u, gw: (gw.create_user(u), g.reset(), g.faults.fail_next(status=502, route="delete"))
        ),
        call="delete",
        raises=AuthUnavailableError,
        status=502,
        stored="user",
        requests={"delete": 1, "get": 1},
    ),
    "delete 429 → AuthRateLimitedError": Case(
        lambda g, u: g.faults.fail_next(status=429, retry_after=1, route="delete"),
        call="delete",
        raises=AuthRateLimitedError,
        retry_after=1.0,
        requests={"delete": 1},
    ),
    # lookup
    "get of an unknown id → None": Case(_nothing, call="get", returns=None, requests={"get": 1}),
    "get answered 503 → AuthUnavailableError": Case(
        lambda g, u: g.faults.fail_next(status=503, route="get"),
        call="get",
        raises=AuthUnavailableError,
        status=503,
        requests={"get": 1},
    ),
    "get answered 200 HTML → AuthBadResponseError": Case(
        lambda g, u: g.faults.fail_next(status=200, html=True, route="get"),
        call="get",
        raises=AuthBadResponseError,
        status=200,
        requests={"get": 1},
    ),
}


@pytest.fixture
def gateway(gotrue):
    with SupabaseAuthGateway(
        url=gotrue.url, key=gotrue.service_role_key, timeout=0.4, deadline_seconds=10
    ) as gateway:
        yield gateway


@pytest.mark.parametrize("name", list(CASES))
def test_classification(gotrue, gateway, name):
    case = CASES[name]
    user = new_user()
    extra = (gateway,) if getattr(case.arrange, "needs_gateway", False) else ()
    context = case.arrange(gotrue, user, *extra)
    before = stored_ids()
    call: Callable[[], Any] = {
        "create": lambda: gateway.create_user(user),
        "delete": lambda: gateway.delete_user(user.id),
        "get": lambda: gateway.get_user(user.id),
    }[case.call]
    with context if hasattr(context, "__enter__") else contextlib.nullcontext():
        if case.raises is None:
            result = call()
        else:
            with pytest.raises(case.raises) as caught:
                call()

    if case.raises is None:
        if case.returns == "user":
            assert isinstance(result, AuthUserInfo) and result.id == user.id
            assert result.app_metadata[APP_METADATA_KEY] == user.app_metadata[APP_METADATA_KEY]
        else:
            assert result == case.returns
    else:
        error = caught.value
        assert type(error) is case.raises, f"{type(error).__name__}: {error}"
        assert error.__cause__ is not None  # raised from the client's exception
        if case.status is not None:
            assert error.status == case.status
        if case.code is not None:
            assert error.code == case.code
        if case.user_may_exist is not None:
            assert error.user_may_exist is case.user_may_exist
        if case.retry_after is not None:
            assert isinstance(error, AuthRateLimitedError)
            assert error.retry_after is not None and error.retry_after >= case.retry_after
            assert error.retry_after <= case.retry_after + 5
        text = str(error)
        assert "\n" not in text and len(text) < 600
        assert gotrue.service_role_key not in text

    calls = {route: n for route, n in gotrue.calls.items() if n}
    assert calls == case.requests
    after = stored_ids()
    if case.stored == "none":
        assert after == before
    elif case.stored == "user":
        assert user.id in after
    elif case.stored == "unchanged":
        assert after == before and user.id in before  # the occupant, untouched
    elif case.stored == "eventually":  # user_may_exist was right: the server stores it later
        deadline = time.monotonic() + 3
        while user.id not in stored_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert user.id in stored_ids()


def test_connection_refused_is_unavailable_and_proven_not_sent(gotrue):
    gotrue.stop()
    with SupabaseAuthGateway(url=gotrue.url, key=gotrue.service_role_key, timeout=0.4) as gateway:
        with pytest.raises(AuthUnavailableError) as caught:
            gateway.create_user(new_user())
    assert type(caught.value) is AuthUnavailableError
    assert caught.value.user_may_exist is False and caught.value.status is None
    assert gotrue.service_role_key not in str(caught.value)
