"""Every Supabase gateway call has a total deadline, and a stop event interrupts it (issue 9).

httpx's timeouts bound each read: an Auth URL that trickles one byte every 3 s never times out
by itself. Against the Auth test server's trickle fault, over real HTTP with the real client.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import AuthCancelledError, AuthDeadlineExceededError

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE = 3.0
TRICKLE = 3.0  # one byte every 3 s, as in the issue


def new_user() -> NewAuthUser:
    user_id = uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=f"slow-{user_id.hex[:10]}@example.com",
        user_metadata={},
        app_metadata={APP_METADATA_KEY: {"synthetic": True}},
    )


def stored(user_id: uuid.UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth.users WHERE id = %s", [user_id])
        return cursor.fetchone()[0] == 1


def gateway_for(gotrue, **kwargs) -> SupabaseAuthGateway:
    # Per-read timeout 5 s (the client's default) > the trickle's 3 s: only the deadline helps.
    return SupabaseAuthGateway(url=gotrue.url, key=gotrue.service_role_key, timeout=5.0, **kwargs)


@pytest.mark.exclusive
def test_a_trickling_create_ends_within_the_deadline(gotrue):
    gotrue.faults.trickle_next(10, interval=TRICKLE)  # the settling lookup trickles too
    user = new_user()
    with gateway_for(gotrue, deadline_seconds=DEADLINE) as gateway:
        started = time.monotonic()
        with pytest.raises(AuthDeadlineExceededError) as caught:
            gateway.create_user(user)
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 0.5
    assert caught.value.user_may_exist is True  # it was sent, and the server did store it
    assert "\n" not in str(caught.value) and "deadline" in str(caught.value).lower()
    assert stored(user.id)
    assert gotrue.calls["create"] == 1 and gotrue.calls["get"] == 1


@pytest.mark.exclusive
def test_a_trickling_lookup_ends_within_the_deadline(gotrue):
    gotrue.faults.trickle_next(1, interval=TRICKLE, route="get")
    with gateway_for(gotrue, deadline_seconds=DEADLINE) as gateway:
        started = time.monotonic()
        with pytest.raises(AuthDeadlineExceededError) as caught:
            gateway.get_user(uuid.uuid4())
        elapsed = time.monotonic() - started
    assert DEADLINE - 0.1 < elapsed < DEADLINE + 0.5
    assert caught.value.user_may_exist is False


@pytest.mark.exclusive
def test_the_stop_event_interrupts_a_call_in_flight(gotrue):
    gotrue.faults.trickle_next(10, interval=TRICKLE)
    stop = threading.Event()
    set_at: list[float] = []

    def press_ctrl_c() -> None:
        set_at.append(time.monotonic())
        stop.set()

    user = new_user()
    with gateway_for(gotrue, deadline_seconds=60, cancel=stop) as gateway:
        timer = threading.Timer(0.5, press_ctrl_c)
        timer.start()
        with pytest.raises(AuthCancelledError) as caught:
            gateway.create_user(user)
        ended = time.monotonic()
        timer.join()
    # The request is abandoned within a slice, then one lookup of at most 1.5 s is attempted.
    assert ended - set_at[0] < 2.0
    assert caught.value.user_may_exist is True  # sent, and the lookup could not tell
    assert gotrue.calls["get"] == 1


@pytest.mark.exclusive
def test_after_a_stop_the_lookup_settles_what_it_can(gotrue):
    gotrue.faults.trickle_next(1, interval=TRICKLE, route="create")  # the lookup is served at once
    stop = threading.Event()
    user = new_user()
    with gateway_for(gotrue, deadline_seconds=60, cancel=stop) as gateway:
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        created = gateway.create_user(user)
        elapsed = time.monotonic() - started
    assert created.id == user.id  # it had been stored: the stop found it, nothing is lost
    assert elapsed < 0.5 + 2.0


def test_a_stop_before_the_call_sends_nothing(gotrue):
    stop = threading.Event()
    stop.set()
    with gateway_for(gotrue, cancel=stop) as gateway:
        with pytest.raises(AuthCancelledError) as caught:
            gateway.create_user(new_user())
    assert caught.value.user_may_exist is False
    assert sum(gotrue.calls.values()) == 0
