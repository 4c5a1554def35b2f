"""The Auth test server's own row helpers against the real ``auth`` schema: GoTrue's duplicate
e-mail check, its paged list, its soft delete (synthadmin never calls these)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction

from synthadmin.auth import gotrue_store
from tests.auth.test_gotrue_store import NOW, insert
from tests.support.gotrue import store

pytestmark = pytest.mark.django_db


def test_email_taken_is_case_insensitive_and_per_audience():
    with transaction.atomic(), connection.cursor() as cursor:
        assert not store.email_taken(cursor, "taken@example.com")
        insert(cursor, email="taken@example.com")
        assert store.email_taken(cursor, "Taken@EXAMPLE.com")
        assert not store.email_taken(cursor, "taken@example.com", aud="other-audience")
        assert not store.email_taken(cursor, "free@example.com")


def test_email_taken_finds_users_through_identities_first():
    """A user whose identity carries the e-mail is found even if its users.email differs."""
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="primary@example.com")
        cursor.execute(
            "INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)"
            " VALUES ('gh-1', %s, '{\"email\": \"Linked@Example.com\"}'::jsonb, 'github', now(), now())",
            [user_id],
        )
        assert store.email_taken(cursor, "linked@example.com")


def test_email_taken_finds_a_user_without_identity_through_users_email():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="lonely@example.com")
        cursor.execute("DELETE FROM auth.identities WHERE user_id = %s", [user_id])
        assert store.email_taken(cursor, "LONELY@example.com")


def test_list_users_newest_first_with_total_and_no_identities():
    with transaction.atomic(), connection.cursor() as cursor:
        ids = [insert(cursor, now=NOW + timedelta(seconds=i))["id"] for i in range(5)]
        page1, total = store.list_users(cursor, page=1, per_page=2)
        page3, _ = store.list_users(cursor, page=3, per_page=2)
        page4, _ = store.list_users(cursor, page=4, per_page=2)
        everyone, _ = store.list_users(cursor, page=1, per_page=50)
        other_aud, other_total = store.list_users(cursor, page=1, per_page=50, aud="nobody")
    assert total == 5
    assert [u["id"] for u in page1] == [ids[4], ids[3]]
    assert [u["id"] for u in page3] == [ids[0]]
    assert page4 == []
    assert [u["id"] for u in everyone] == ids[::-1]
    assert all(u["identities"] is None for u in everyone)
    assert everyone[0]["confirmed_at"]
    assert (other_aud, other_total) == ([], 0)


def test_list_users_filter_matches_email_or_full_name():
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, email="needle-one@example.com")
        insert(cursor, email="x@example.com", user_metadata={"full_name": "Mr NEEDLE"})
        insert(cursor, email="y@example.com")
        found, total = store.list_users(cursor, page=1, per_page=10, search="needle")
    assert total == 2
    assert {u["email"] for u in found} == {"needle-one@example.com", "x@example.com"}


def test_soft_delete_keeps_an_obfuscated_row_and_frees_the_email():
    user_id = uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        insert(cursor, user_id=user_id, email="soft@example.com", app_metadata={"cohort": "qa"})
        assert store.soft_delete_user(cursor, user_id) is True
        cursor.execute(
            "SELECT email, phone, encrypted_password, deleted_at, raw_user_meta_data::text,"
            " raw_app_meta_data::text, email_change, phone_change FROM auth.users WHERE id = %s",
            [user_id],
        )
        email, phone, encrypted_password, deleted_at, user_meta, app_meta, email_change, phone_change = (
            cursor.fetchone()
        )
        cursor.execute(
            "SELECT provider_id, identity_data::text FROM auth.identities WHERE user_id = %s", [user_id]
        )
        identities = cursor.fetchall()
        fetched = gotrue_store.fetch_user(cursor, user_id)
        assert fetched is not None
        assert not store.email_taken(cursor, "soft@example.com")
        insert(cursor, email="soft@example.com")  # the address can be reused
        # A second soft delete is a no-op.
        assert store.soft_delete_user(cursor, user_id) is True
        cursor.execute("SELECT deleted_at FROM auth.users WHERE id = %s", [user_id])
        assert cursor.fetchone()[0] == deleted_at
    assert email == store.obfuscate(user_id, "soft@example.com")
    assert len(email) == 43 and "@" not in email
    assert phone == store.obfuscate(user_id, "")[:15]
    assert email_change and len(phone_change) == 15
    assert encrypted_password is None
    assert deleted_at is not None
    assert json.loads(user_meta) == json.loads(app_meta) == {}
    assert len(identities) == 1
    assert identities[0][0] == store.obfuscate(user_id, f"email:{user_id}")
    assert json.loads(identities[0][1]) == {}
    assert fetched["deleted_at"]
    assert "identity_data" not in fetched["identities"][0]  # Go's omitempty on an empty map


def test_soft_delete_of_unknown_user_is_false():
    with transaction.atomic(), connection.cursor() as cursor:
        assert store.soft_delete_user(cursor, uuid.uuid4()) is False
