"""gotrue_store against the real ``auth`` schema: GoTrue's rows, its JSON, hard delete,
collisions mapped by constraint name, and savepoints that keep the caller's transaction usable.

Runs through Django's cursor (inside the test transaction) and through a plain psycopg cursor.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import bcrypt
import psycopg
import pytest
from django.db import DataError, IntegrityError, connection, transaction
from supabase_auth.types import User

from synthadmin.auth import gotrue_store
from synthadmin.exceptions import DuplicateEmailError, DuplicateUserIdError
from tests.auth.conftest import test_database_conninfo
from tests.support.gotrue import store

pytestmark = pytest.mark.django_db

HASH = gotrue_store.hash_password("correct horse", rounds=4)
NOW = datetime(2026, 8, 20, 10, 0, 0, 123456, tzinfo=UTC)


def insert(cursor, *, user_id=None, email=None, confirm=True, now=NOW, **kwargs):
    user_id = user_id or uuid.uuid4()
    return gotrue_store.insert_user(
        cursor,
        user_id=user_id,
        email=email or f"user-{user_id.hex[:10]}@example.com",
        password_hash=kwargs.pop("password_hash", HASH),
        email_confirm=confirm,
        user_metadata=kwargs.pop("user_metadata", {"name": "Ann"}),
        app_metadata=kwargs.pop("app_metadata", {}),
        now=now,
        **kwargs,
    )


def scalar(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def test_hash_is_bcrypt_2a_at_the_requested_cost():
    hashed = gotrue_store.hash_password("test1", rounds=5)
    assert hashed.startswith("$2a$05$")
    assert len(hashed) == 60
    assert bcrypt.checkpw(b"test1", hashed.encode())


def test_72_bytes_are_accepted_73_are_refused():
    assert gotrue_store.hash_password("a" * 72, rounds=4).startswith("$2a$04$")
    with pytest.raises(ValueError, match="72"):
        gotrue_store.hash_password("a" * 73, rounds=4)


@pytest.mark.parametrize(
    ("char", "fits", "too_many"),
    [("é", 36, 37), ("€", 24, 25), ("😀", 18, 19)],
)
def test_the_limit_counts_utf8_bytes_not_characters(char, fits, too_many):
    hashed = gotrue_store.hash_password(char * fits, rounds=4)
    assert bcrypt.checkpw((char * fits).encode(), hashed.encode())
    # 37 "é" is only 37 characters but 74 bytes.
    with pytest.raises(ValueError):
        gotrue_store.hash_password(char * too_many, rounds=4)


def test_insert_writes_gotrues_user_row():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(
            cursor,
            user_id=user_id,
            email="Ann.Lee@Example.COM",
            user_metadata={"name": "Ann"},
            app_metadata={"synthadmin": True},
        )
        cursor.execute(
            "SELECT instance_id, aud, role, email, encrypted_password, email_confirmed_at, confirmed_at,"
            " confirmation_token, recovery_token, email_change_token_new, email_change,"
            " email_change_token_current, phone_change, phone_change_token, reauthentication_token,"
            " phone, raw_app_meta_data::text, raw_user_meta_data::text, created_at, updated_at,"
            " is_sso_user, is_anonymous, is_super_admin, last_sign_in_at, deleted_at, banned_until,"
            " email_change_confirm_status"
            " FROM auth.users WHERE id = %s",
            [user_id],
        )
        row = cursor.fetchone()
    (
        instance_id, aud, role, email, encrypted_password, email_confirmed_at, confirmed_at,
        confirmation_token, recovery_token, email_change_token_new, email_change,
        email_change_token_current, phone_change, phone_change_token, reauthentication_token,
        phone, app_meta, user_meta, created_at, updated_at,
        is_sso_user, is_anonymous, is_super_admin, last_sign_in_at, deleted_at, banned_until,
        email_change_confirm_status,
    ) = row  # fmt: skip
    assert str(instance_id) == gotrue_store.NIL_INSTANCE_ID
    assert (aud, role) == ("authenticated", "authenticated")
    assert email == "ann.lee@example.com"
    assert encrypted_password == HASH and encrypted_password.startswith("$2a$")
    assert email_confirmed_at == NOW == confirmed_at
    assert (confirmation_token, recovery_token, email_change_token_new, email_change) == ("", "", "", "")
    assert (email_change_token_current, phone_change, phone_change_token, reauthentication_token) == (
        "",
        "",
        "",
        "",
    )
    assert phone is None
    assert json.loads(app_meta) == {"provider": "email", "providers": ["email"], "synthadmin": True}
    assert json.loads(user_meta) == {"name": "Ann", "email_verified": True}
    assert created_at == updated_at == NOW
    assert (is_sso_user, is_anonymous, is_super_admin) == (False, False, None)
    assert (last_sign_in_at, deleted_at, banned_until) == (None, None, None)
    assert email_change_confirm_status == 0


def test_insert_writes_one_email_identity():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="Bob@Example.com")
        cursor.execute(
            "SELECT id, provider_id, provider, identity_data::text, email, last_sign_in_at, created_at,"
            " updated_at FROM auth.identities WHERE user_id = %s",
            [user_id],
        )
        rows = cursor.fetchall()
    assert len(rows) == 1
    identity_id, provider_id, provider, identity_data, email, last_sign_in_at, created_at, updated_at = rows[
        0
    ]
    assert identity_id != user_id
    assert provider_id == str(user_id)
    assert provider == "email"
    assert json.loads(identity_data) == {
        "sub": str(user_id),
        "email": "bob@example.com",
        "email_verified": False,
        "phone_verified": False,
    }
    assert email == "bob@example.com"
    assert last_sign_in_at == created_at == updated_at == NOW


def test_unconfirmed_user_has_no_confirmation_and_no_email_verified():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        created = insert(cursor, user_id=user_id, confirm=False, user_metadata={})
        fetched = gotrue_store.fetch_user(cursor, user_id)
        assert fetched is not None
        cursor.execute(
            "SELECT email_confirmed_at, raw_user_meta_data::text FROM auth.users WHERE id = %s", [user_id]
        )
        confirmed_at, user_meta = cursor.fetchone()
    assert confirmed_at is None
    assert json.loads(user_meta) == {}
    for user in (created, fetched):
        assert "email_confirmed_at" not in user
        assert "confirmed_at" not in user
        assert user["user_metadata"] == {}


def test_app_metadata_merge_caller_wins_and_none_deletes():
    with transaction.atomic(), connection.cursor() as cursor:
        user = insert(
            cursor,
            app_metadata={"providers": ["email", "magic"], "provider": None, "cohort": "qa"},
        )
    assert user["app_metadata"] == {"providers": ["email", "magic"], "cohort": "qa"}


def test_default_timestamp_is_now_in_utc():
    before = datetime.now(UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        user = gotrue_store.insert_user(
            cursor,
            user_id=uuid.uuid4(),
            email="now@example.com",
            password_hash=HASH,
            email_confirm=True,
            user_metadata={},
            app_metadata={},
        )
    created = datetime.fromisoformat(user["created_at"])
    assert before <= created <= datetime.now(UTC)
    assert created.utcoffset() == timedelta(0)


def test_insert_returns_gotrues_create_json():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        user = insert(cursor, user_id=user_id, email="Cy@Example.com")
    identity = user["identities"][0]
    assert user["id"] == str(user_id)
    assert user["aud"] == user["role"] == "authenticated"
    assert user["email"] == "cy@example.com"
    assert user["phone"] == ""
    assert user["email_confirmed_at"] == "2026-08-20T10:00:00.123456+00:00"
    assert "confirmed_at" not in user  # not re-read after the insert
    assert user["created_at"] == user["updated_at"] == "2026-08-20T10:00:00.123456+00:00"
    assert user["is_anonymous"] is False
    for absent in ("last_sign_in_at", "deleted_at", "banned_until", "new_email", "new_phone", "factors"):
        assert absent not in user
    assert set(identity) == {
        "identity_id",
        "id",
        "user_id",
        "identity_data",
        "provider",
        "last_sign_in_at",
        "created_at",
        "updated_at",
        "email",
    }
    assert identity["id"] == identity["user_id"] == str(user_id)
    assert identity["email"] == "cy@example.com"
    # The official client's model accepts it (full UTC offsets, required keys present).
    parsed = User.model_validate(user)
    assert parsed.identities is not None
    assert parsed.identities[0].identity_data["sub"] == str(user_id)


def test_fetch_user_includes_confirmed_at_and_matches_create():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        created = insert(cursor, user_id=user_id)
        fetched = gotrue_store.fetch_user(cursor, user_id)
        assert fetched is not None
        assert gotrue_store.fetch_user(cursor, str(user_id)) == fetched
    assert fetched.pop("confirmed_at") == "2026-08-20T10:00:00.123456+00:00"
    assert fetched == created


def test_fetch_unknown_user_is_none():
    with connection.cursor() as cursor:
        assert gotrue_store.fetch_user(cursor, uuid.uuid4()) is None


def test_duplicate_id_is_duplicate_user_id_error_and_the_transaction_stays_usable():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="first@example.com")
        with pytest.raises(DuplicateUserIdError) as caught:
            insert(cursor, user_id=user_id, email="second@example.com")
        # The savepoint was rolled back: the same transaction keeps working.
        assert scalar(cursor, "SELECT count(*) FROM auth.users WHERE id = %s", [user_id]) == 1
        assert scalar(cursor, "SELECT count(*) FROM auth.users WHERE email = 'second@example.com'") == 0
        insert(cursor, email="third@example.com")
    error = caught.value
    assert (error.status, error.code) == (None, "23505")
    assert isinstance(error.__cause__, IntegrityError)
    assert isinstance(error.__cause__.__cause__, psycopg.Error)
    assert error.__cause__.__cause__.diag.constraint_name == "users_pkey"


def test_duplicate_email_in_another_case_is_duplicate_email_error():
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, email="dup@example.com")
        with pytest.raises(DuplicateEmailError) as caught:
            insert(cursor, email="DUP@Example.com")
        assert scalar(cursor, "SELECT count(*) FROM auth.users WHERE email = 'dup@example.com'") == 1
    assert caught.value.code == "23505"
    cause = caught.value.__cause__
    assert cause is not None and isinstance(cause.__cause__, psycopg.Error)
    assert cause.__cause__.diag.constraint_name == "users_email_partial_key"


def test_identity_provider_id_collision_is_duplicate_user_id_and_rolls_back_the_user():
    """A stray identity already claims (provider_id=<new id>, email): GoTrue's identity insert
    fails, and the user row of the same attempt must go too."""
    owner = uuid.uuid4()
    new_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=owner, email="owner@example.com")
        cursor.execute(
            "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)"
            " VALUES (%s, %s, '{}'::jsonb, 'email', now(), now())",
            [str(new_id), owner],
        )
        with pytest.raises(DuplicateUserIdError) as caught:
            insert(cursor, user_id=new_id, email="newcomer@example.com")
        assert scalar(cursor, "SELECT count(*) FROM auth.users WHERE id = %s", [new_id]) == 0
    cause = caught.value.__cause__
    assert cause is not None and isinstance(cause.__cause__, psycopg.Error)
    assert cause.__cause__.diag.constraint_name == "identities_provider_id_provider_unique"


def test_other_database_errors_propagate_unchanged_and_keep_the_transaction():
    with transaction.atomic(), connection.cursor() as cursor:
        with pytest.raises(DataError):
            insert(cursor, aud="x" * 300)  # varchar(255)
        assert scalar(cursor, "SELECT 1") == 1


def test_collisions_map_by_constraint_name_with_a_plain_psycopg_cursor():
    user_id = uuid.uuid4()
    with psycopg.connect(test_database_conninfo()) as conn, conn.cursor() as cursor:
        try:
            created = insert(cursor, user_id=user_id, email="Psy@Example.com")
            assert created["email"] == "psy@example.com"
            assert User.model_validate(created).id == str(user_id)
            with pytest.raises(DuplicateUserIdError) as by_id:
                insert(cursor, user_id=user_id, email="psy2@example.com")
            with pytest.raises(DuplicateEmailError) as by_email:
                insert(cursor, email="psy@example.com")
            assert isinstance(by_id.value.__cause__, psycopg.errors.UniqueViolation)
            assert by_id.value.__cause__.diag.constraint_name == "users_pkey"
            assert isinstance(by_email.value.__cause__, psycopg.errors.UniqueViolation)
            assert by_email.value.__cause__.diag.constraint_name == "users_email_partial_key"
            # Still usable after both failures.
            fetched = gotrue_store.fetch_user(cursor, user_id)
            assert fetched is not None
            assert fetched["identities"][0]["identity_data"]["email"] == "psy@example.com"
            assert store.email_taken(cursor, "PSY@example.com")
        finally:
            conn.rollback()


def test_hard_delete_cascades_to_identities_and_profiles():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="gone@example.com")
        cursor.execute(
            "INSERT INTO public.profiles (id, email, role) VALUES (%s, 'gone@example.com', 'patient') ON CONFLICT (id) DO NOTHING",
            [user_id],
        )
        assert gotrue_store.delete_user(cursor, user_id) is True
        assert scalar(cursor, "SELECT count(*) FROM auth.users WHERE id = %s", [user_id]) == 0
        assert scalar(cursor, "SELECT count(*) FROM auth.identities WHERE user_id = %s", [user_id]) == 0
        assert scalar(cursor, "SELECT count(*) FROM public.profiles WHERE id = %s", [user_id]) == 0
        assert gotrue_store.delete_user(cursor, user_id) is False
