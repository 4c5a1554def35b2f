"""The local gateway raises the same typed errors as the Supabase one for the same conditions
(issue 9): a trigger or constraint on ``auth.users`` is a database refusal (no ``IntegrityError``
escapes), a delete refused by a foreign key is blocked, the deadline is a statement timeout, and
a set stop event stops the call. Real PostgreSQL, real triggers and foreign keys."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
from synthadmin.auth.local import LocalAuthGateway
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthDeleteBlockedError,
    DuplicateEmailError,
    DuplicateUserIdError,
)
from tests.support.gotrue import (
    block_delete,
    install_failing_signup_trigger,
    remove_failing_signup_trigger,
    unblock_deletes,
)

pytestmark = pytest.mark.django_db(transaction=True)


def new_user(**overrides) -> NewAuthUser:
    user_id = overrides.pop("id", None) or uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=overrides.pop("email", None) or f"local-{user_id.hex[:10]}@example.com",
        user_metadata={"name": "Local"},
        app_metadata={APP_METADATA_KEY: {"synthetic": True}},
    )


def count_users() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth.users")
        return cursor.fetchone()[0]


@pytest.fixture
def gateway(supabase_tables_cleanup):
    with LocalAuthGateway(rounds=4, deadline_seconds=30) as gateway:
        yield gateway


@pytest.fixture
def failing_trigger(supabase_tables_cleanup):
    with connection.cursor() as cursor:
        install_failing_signup_trigger(cursor)
    yield
    with connection.cursor() as cursor:
        remove_failing_signup_trigger(cursor)


def test_a_failing_signup_trigger_is_a_database_refusal(gateway, failing_trigger):
    with pytest.raises(AuthDatabaseRefusedError) as caught:
        gateway.create_user(new_user())
    error = caught.value
    assert error.code == "P0001" and error.status is None and error.user_may_exist is False
    assert "auth.users" in str(error) and "\n" not in str(error)
    assert error.__cause__ is not None
    assert count_users() == 0
    # The connection is still usable: the failed insert was rolled back.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_a_check_constraint_on_auth_users_is_a_database_refusal(gateway):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE auth.users ADD CONSTRAINT synthadmin_test_no_example "
            "CHECK (email NOT LIKE '%%@example.com')"
        )
    try:
        with pytest.raises(AuthDatabaseRefusedError) as caught:
            gateway.create_user(new_user())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE auth.users DROP CONSTRAINT synthadmin_test_no_example")
    assert caught.value.code == "23514"
    assert "synthadmin_test_no_example" in str(caught.value)
    assert count_users() == 0


def test_collisions_keep_their_types(gateway):
    first = new_user()
    gateway.create_user(first)
    with pytest.raises(DuplicateUserIdError):
        gateway.create_user(new_user(id=first.id))
    with pytest.raises(DuplicateEmailError):
        gateway.create_user(new_user(email=first.email))
    assert count_users() == 1


def test_a_delete_refused_by_a_foreign_key_is_blocked(gateway):
    user = new_user()
    gateway.create_user(user)
    with connection.cursor() as cursor:
        block_delete(cursor, user.id)
    try:
        with pytest.raises(AuthDeleteBlockedError) as caught:
            gateway.delete_user(user.id)
    finally:
        with connection.cursor() as cursor:
            unblock_deletes(cursor)
    assert caught.value.code == "23503" and caught.value.user_may_exist is True
    assert count_users() == 1
    assert gateway.delete_user(user.id) is True
    assert gateway.delete_user(user.id) is False


def test_the_deadline_is_a_statement_timeout(supabase_tables_cleanup):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION public.synthadmin_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER synthadmin_test_slow BEFORE INSERT ON auth.users "
            "FOR EACH ROW EXECUTE FUNCTION public.synthadmin_test_slow()"
        )
    try:
        gateway = LocalAuthGateway(rounds=4, deadline_seconds=1)
        with pytest.raises(AuthDeadlineExceededError) as caught:
            gateway.create_user(new_user())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER synthadmin_test_slow ON auth.users")
            cursor.execute("DROP FUNCTION public.synthadmin_test_slow()")
    assert caught.value.code == "57014" and caught.value.user_may_exist is False
    assert count_users() == 0


def test_a_set_stop_event_stops_the_call(supabase_tables_cleanup):
    stop = threading.Event()
    gateway = LocalAuthGateway(rounds=4, cancel=stop)
    stop.set()
    with pytest.raises(AuthCancelledError) as caught:
        gateway.create_user(new_user())
    assert caught.value.user_may_exist is False
    assert count_users() == 0
