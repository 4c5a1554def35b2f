"""The Auth test server under concurrent calls from one shared official client."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from supabase_auth.errors import AuthApiError

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
PER_THREAD = 5


def test_concurrent_creates_all_succeed_without_duplicates(gotrue, supabase_admin):
    gotrue.faults.latency(0.01)

    def create_batch(worker: int) -> list[str]:
        ids = []
        for n in range(PER_THREAD):
            user_id = str(uuid.uuid4())
            user = supabase_admin.auth.admin.create_user(
                {
                    "id": user_id,
                    "email": f"worker{worker}-{n}@example.com",
                    "password": "pw",
                    "email_confirm": True,
                    "user_metadata": {"worker": worker},
                }
            ).user
            assert user.id == user_id
            ids.append(user.id)
        return ids

    with ThreadPoolExecutor(THREADS) as pool:
        created = [user_id for batch in pool.map(create_batch, range(THREADS)) for user_id in batch]

    assert len(created) == len(set(created)) == THREADS * PER_THREAD
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text, email FROM auth.users")
        rows = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM auth.identities")
        identities = cursor.fetchone()[0]
    assert {row[0] for row in rows} == set(created)
    assert len({row[1] for row in rows}) == THREADS * PER_THREAD
    assert identities == THREADS * PER_THREAD
    assert gotrue.call_count("create") == THREADS * PER_THREAD
    assert len(supabase_admin.auth.admin.list_users(per_page=100)) == THREADS * PER_THREAD


def test_racing_creates_of_one_email_store_exactly_one_user(gotrue, supabase_admin):
    def create(_: int) -> int:
        try:
            supabase_admin.auth.admin.create_user(
                {"email": "race@example.com", "password": "pw", "user_metadata": {}}
            )
        except AuthApiError as error:
            # Losers see the pre-check (422) or, racing past it, the unique index (500).
            assert (error.status, error.code) in {(422, "email_exists"), (500, "unexpected_failure")}
            return error.status
        return 200

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(create, range(THREADS)))

    assert statuses.count(200) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth.users WHERE email = 'race@example.com'")
        assert cursor.fetchone()[0] == 1
        cursor.execute("SELECT count(*) FROM auth.identities")
        assert cursor.fetchone()[0] == 1
