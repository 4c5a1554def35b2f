"""Eight 429s with ``Retry-After: 1`` at the start: with one flow controller shared by the worker
threads, every create eventually succeeds, and the Auth test server's log shows no create
arriving less than 1 s after the 429 that preceded it, from any thread (issue 9).

Real HTTP, the real client inside the Supabase gateway, the service's retry policy
(``transient_retrying``) around ``flow.call`` — the way the services are to use them.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
from synthadmin.auth.flow import FlowController
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.services.retrying import transient_retrying

pytestmark = pytest.mark.django_db(transaction=True)

USERS = 12
WORKERS = 4
RETRY_AFTER = 1


def new_user(n: int) -> NewAuthUser:
    user_id = uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=f"flow-{n}-{user_id.hex[:8]}@example.com",
        user_metadata={},
        app_metadata={APP_METADATA_KEY: {"synthetic": True, "n": n}},
    )


def test_eight_429s_slow_every_thread_and_all_creates_succeed(gotrue, fast_retries):
    gotrue.faults.latency(0.02)
    gotrue.faults.fail_next(8, status=429, retry_after=RETRY_AFTER)
    flow = FlowController(max_concurrency=WORKERS)
    retried = []

    with SupabaseAuthGateway(url=gotrue.url, key=gotrue.service_role_key, timeout=2) as gateway:

        def create(n: int) -> uuid.UUID:
            user = new_user(n)
            retrying = transient_retrying(on_retry=lambda state: retried.append(n))
            return retrying(flow.call, gateway.create_user, user).id

        with ThreadPoolExecutor(WORKERS) as pool:
            created = list(pool.map(create, range(USERS)))

    assert len(set(created)) == USERS
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth.users")
        assert cursor.fetchone()[0] == USERS

    creates = gotrue.requests_for("create")
    limited = [r for r in creates if r.status == 429]
    assert len(limited) == 8 and all(r.retry_after == str(RETRY_AFTER) for r in limited)
    assert len(retried) == 8
    for request in creates:
        before = [
            r.answered_at
            for r in limited
            if r.answered_at is not None and r.answered_at < request.received_at
        ]
        if before:
            assert request.received_at - max(before) >= RETRY_AFTER, "a create left before Retry-After"

    stats = flow.stats()
    assert stats.rate_limited == 8
    assert stats.paused_seconds >= 8 * RETRY_AFTER - 0.01
    assert 1 <= stats.limit <= WORKERS and stats.calls == USERS + 8
