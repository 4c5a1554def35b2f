"""The Auth test server honours the admin API contract (docs/auth-admin-api.md), checked with the
official ``supabase`` client (and raw HTTP where the client hides the wire), with the rows
checked directly in ``auth.users``."""

from __future__ import annotations

import json
import uuid
from datetime import date

import httpx
import pytest
from django.db import connection
from supabase_auth.errors import AuthApiError

from tests.auth.conftest import admin_client

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL_EXISTS = "A user with this email address has already been registered"


def new_user(**overrides):
    user_id = uuid.uuid4()
    attributes = {
        "id": str(user_id),
        "email": f"Patient.{user_id.hex[:8]}@Example.com",
        "password": "s3cret-pass",
        "email_confirm": True,
        "user_metadata": {"display_name": "Ann"},
        "app_metadata": {"synthadmin": True},
    }
    attributes.update(overrides)
    return attributes


def raw(gotrue, method, path="", *, key=None, body=None, headers=None, version="2024-01-01", params=None):
    """One request as the client would send it, but returning the raw response."""
    sent = {
        "apikey": key or gotrue.service_role_key,
        "Authorization": f"Bearer {key or gotrue.service_role_key}",
    }
    if version:
        sent["X-Supabase-Api-Version"] = version
    sent.update(headers or {})
    sent = {k: v for k, v in sent.items() if v is not None}
    content = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return httpx.request(
        method,
        f"{gotrue.url}/auth/v1/admin/users{path}",
        headers=sent,
        content=content,
        params=params,
        timeout=5,
    )


def db_rows(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def user_count():
    return db_rows("SELECT count(*) FROM auth.users")[0][0]


def api_error(excinfo) -> tuple[int, str | None, str]:
    error = excinfo.value
    assert type(error) is AuthApiError
    return error.status, error.code, error.message


# Create -----------------------------------------------------------------------------------------


def test_create_returns_the_user_with_our_id(gotrue, supabase_admin):
    attributes = new_user()
    user = supabase_admin.auth.admin.create_user(attributes).user

    assert user.id == attributes["id"]
    assert user.email == attributes["email"].lower()
    assert user.aud == user.role == "authenticated"
    assert user.phone == ""
    assert user.email_confirmed_at is not None
    assert user.confirmed_at is None  # the create response omits it; GET has it
    assert user.app_metadata == {"provider": "email", "providers": ["email"], "synthadmin": True}
    assert user.user_metadata == {"display_name": "Ann", "email_verified": True}
    assert user.is_anonymous is False
    assert user.created_at.utcoffset().total_seconds() == 0
    (identity,) = user.identities
    assert identity.id == identity.user_id == user.id
    assert identity.identity_id != user.id
    assert identity.provider == "email"
    assert identity.identity_data == {
        "sub": user.id,
        "email": user.email,
        "email_verified": False,
        "phone_verified": False,
    }
    assert identity.last_sign_in_at is not None
    # The custom id was on the wire.
    (request,) = gotrue.requests_for("create")
    assert request.json["id"] == attributes["id"]
    assert request.status == 200


def test_create_answers_200_with_the_bare_user(gotrue):
    response = raw(gotrue, "POST", body=new_user())
    assert response.status_code == 200
    body = response.json()
    assert "user" not in body
    assert set(body) >= {"id", "aud", "role", "email", "phone", "app_metadata", "user_metadata", "identities"}
    assert "confirmed_at" not in body
    assert body["created_at"].endswith("+00:00")
    for absent in ("last_sign_in_at", "banned_until", "deleted_at", "factors", "new_email"):
        assert absent not in body


def test_create_writes_gotrues_rows(gotrue, supabase_admin):
    attributes = new_user()
    supabase_admin.auth.admin.create_user(attributes)

    (
        (instance_id, email, password_hash, tokens, phone, confirmed, app_meta, user_meta, created, updated),
    ) = db_rows(
        "SELECT instance_id, email, encrypted_password,"
        " ARRAY[confirmation_token, recovery_token, email_change_token_new, email_change],"
        " phone, email_confirmed_at IS NOT NULL, raw_app_meta_data::text, raw_user_meta_data::text,"
        " created_at, updated_at FROM auth.users WHERE id = %s",
        [attributes["id"]],
    )
    assert str(instance_id) == "00000000-0000-0000-0000-000000000000"
    assert email == attributes["email"].lower()
    assert password_hash.startswith("$2a$04$") and len(password_hash) == 60
    assert tokens == ["", "", "", ""]
    assert phone is None
    assert confirmed is True
    assert json.loads(app_meta) == {"provider": "email", "providers": ["email"], "synthadmin": True}
    assert json.loads(user_meta) == {"display_name": "Ann", "email_verified": True}
    assert created == updated

    ((provider_id, provider, identity_data),) = db_rows(
        "SELECT provider_id, provider, identity_data::text FROM auth.identities WHERE user_id = %s",
        [attributes["id"]],
    )
    assert (provider_id, provider) == (attributes["id"], "email")
    assert json.loads(identity_data) == {
        "sub": attributes["id"],
        "email": attributes["email"].lower(),
        "email_verified": False,
        "phone_verified": False,
    }


def test_short_passwords_are_accepted(supabase_admin):
    assert supabase_admin.auth.admin.create_user(new_user(password="1")).user.id


def test_password_hash_is_stored_as_given(supabase_admin):
    bcrypt_hash = "$2a$10$" + "a" * 53
    attributes = new_user(password_hash=bcrypt_hash)
    del attributes["password"]
    supabase_admin.auth.admin.create_user(attributes)
    assert db_rows("SELECT encrypted_password FROM auth.users WHERE id = %s", [attributes["id"]]) == [
        (bcrypt_hash,)
    ]


def test_without_password_a_random_one_is_hashed(supabase_admin):
    attributes = new_user()
    del attributes["password"]
    supabase_admin.auth.admin.create_user(attributes)
    ((password_hash,),) = db_rows(
        "SELECT encrypted_password FROM auth.users WHERE id = %s", [attributes["id"]]
    )
    assert password_hash.startswith("$2a$")


@pytest.mark.parametrize(
    "version_of", [uuid.uuid1, uuid.uuid4, lambda: uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")]
)
def test_any_uuid_version_is_accepted(supabase_admin, version_of):
    user_id = str(version_of())
    assert supabase_admin.auth.admin.create_user(new_user(id=user_id)).user.id == user_id


def test_duplicate_email_in_another_case_is_422_email_exists(gotrue, supabase_admin):
    first = new_user()
    supabase_admin.auth.admin.create_user(first)
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user(email=first["email"].upper()))
    assert api_error(caught) == (422, "email_exists", EMAIL_EXISTS)
    assert user_count() == 1


def test_duplicate_email_wins_over_a_bad_or_used_id(gotrue, supabase_admin):
    first = new_user()
    supabase_admin.auth.admin.create_user(first)
    for bad_id in ("not-a-uuid", str(uuid.UUID(int=0)), first["id"]):
        with pytest.raises(AuthApiError) as caught:
            supabase_admin.auth.admin.create_user(new_user(email=first["email"], id=bad_id))
        assert api_error(caught)[:2] == (422, "email_exists")


def test_duplicate_id_is_500_unexpected_failure_with_nothing_stored(gotrue, supabase_admin):
    user_id = uuid.uuid4()
    occupant_email = gotrue.faults.occupy_id(user_id)
    attempt = new_user(id=str(user_id))
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(attempt)
    assert api_error(caught) == (500, "unexpected_failure", "Database error creating new user")
    assert db_rows("SELECT id, email FROM auth.users") == [(user_id, occupant_email)]
    assert db_rows("SELECT count(*) FROM auth.identities")[0][0] == 1
    # The only other sign: the id belongs to someone else.
    assert supabase_admin.auth.admin.get_user_by_id(str(user_id)).user.email == occupant_email


def test_duplicate_id_of_a_user_made_through_the_api(supabase_admin):
    first = new_user()
    supabase_admin.auth.admin.create_user(first)
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user(id=first["id"]))
    assert api_error(caught)[:2] == (500, "unexpected_failure")
    assert user_count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "not-a-uuid"}, "ID must conform to the uuid v4 format"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "ID cannot be a nil uuid"),
        ({"email": "", "phone": ""}, "Cannot create a user without either an email or phone"),
        ({"email": "not an email"}, "Unable to validate email address: invalid format"),
        ({"email": "a" * 250 + "@example.com"}, "An email address is too long"),
        ({"password_hash": "$2a$10$" + "a" * 53}, "Only a password or a password hash should be provided"),
        ({"ban_duration": "forever"}, 'invalid format for ban duration: time: invalid duration "forever"'),
    ],
)
def test_validation_errors_are_400_validation_failed(gotrue, supabase_admin, overrides, message):
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user(**overrides))
    assert api_error(caught) == (400, "validation_failed", message)
    assert user_count() == 0


@pytest.mark.parametrize("password", ["a" * 73, "é" * 37, "😀" * 19])
def test_password_over_72_bytes_is_500_unexpected_failure(gotrue, supabase_admin, password):
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user(password=password))
    assert api_error(caught) == (500, "unexpected_failure", "Internal Server Error")
    assert user_count() == 0


def test_password_of_exactly_72_bytes_is_fine(supabase_admin):
    assert supabase_admin.auth.admin.create_user(new_user(password="é" * 36)).user.id


def test_body_that_is_not_json_is_400_bad_json(gotrue):
    response = raw(gotrue, "POST", body=b"{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_json"
    assert response.json()["message"].startswith("Could not parse request body as JSON: ")
    wrong_type = raw(gotrue, "POST", body={"email": 42})
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "bad_json")


def test_ban_role_and_phone_fields(gotrue, supabase_admin):
    attributes = new_user(phone="+49 151 2345678", ban_duration="24h", role=" custom_role ")
    user = supabase_admin.auth.admin.create_user(attributes).user
    assert user.phone == "491512345678"
    assert user.role == "custom_role"
    assert user.banned_until
    assert user.app_metadata["providers"] == ["email", "phone"]
    assert sorted(i.provider for i in user.identities) == ["email", "phone"]
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user(phone="491512345678"))
    assert api_error(caught) == (422, "phone_exists", "Phone number already registered by another user")


# Error rendering ----------------------------------------------------------------------------------


def test_errors_echo_the_api_version_and_carry_x_sb_error_code(gotrue, supabase_admin):
    supabase_admin.auth.admin.create_user(first := new_user())
    response = raw(gotrue, "POST", body=new_user(email=first["email"]))
    assert response.status_code == 422
    assert response.json() == {"code": "email_exists", "message": EMAIL_EXISTS}
    assert response.headers["X-Supabase-Api-Version"] == "2024-01-01"
    assert response.headers["x-sb-error-code"] == "email_exists"


def test_without_the_version_header_errors_have_the_legacy_shape(gotrue, supabase_admin):
    supabase_admin.auth.admin.create_user(first := new_user())
    response = raw(gotrue, "POST", body=new_user(email=first["email"]), version=None)
    assert response.status_code == 422
    assert response.json() == {"code": 422, "error_code": "email_exists", "msg": EMAIL_EXISTS}
    assert "X-Supabase-Api-Version" not in response.headers
    assert response.headers["x-sb-error-code"] == "email_exists"
    # An old version date is legacy too; a legacy duplicate id exposes the Postgres error.
    duplicate = raw(gotrue, "POST", body=new_user(id=first["id"]), version="2023-05-01")
    assert duplicate.status_code == 500
    body = duplicate.json()
    assert body["code"] == "23505"
    assert body["message"] == 'duplicate key value violates unique constraint "users_pkey"'
    assert body["detail"] == f"Key (id)=({first['id']}) already exists."


# Authorisation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "Bearer", "Bearer two tokens"])
def test_without_a_bearer_token_401_no_authorization(gotrue, authorization):
    response = raw(gotrue, "POST", body=new_user(), headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json() == {
        "code": "no_authorization",
        "message": "This endpoint requires a valid Bearer token",
    }
    assert user_count() == 0


def test_garbage_key_is_403_bad_jwt(gotrue):
    client = admin_client(gotrue.url, "this-is-not-a-jwt")
    with pytest.raises(AuthApiError) as caught:
        client.auth.admin.create_user(new_user())
    status, code, message = api_error(caught)
    assert (status, code) == (403, "bad_jwt")
    assert message.startswith("invalid JWT: unable to parse or verify signature, ")


@pytest.mark.parametrize(
    "make_key",
    [
        lambda g: g.make_key("service_role", secret="another-secret-of-sufficient-length-0123456789"),
        lambda g: g.make_key("service_role", exp=1_000_000_000),
    ],
    ids=["wrong-signature", "expired"],
)
def test_badly_signed_or_expired_key_is_403_bad_jwt(gotrue, make_key):
    client = admin_client(gotrue.url, make_key(gotrue))
    with pytest.raises(AuthApiError) as caught:
        client.auth.admin.list_users()
    assert api_error(caught)[:2] == (403, "bad_jwt")


def test_anon_key_is_403_not_admin_before_any_validation(gotrue):
    client = admin_client(gotrue.url, gotrue.anon_key)
    with pytest.raises(AuthApiError) as caught:
        client.auth.admin.create_user({"email": "", "id": "nope"})
    assert api_error(caught) == (403, "not_admin", "User not allowed")
    with pytest.raises(AuthApiError) as caught:
        client.auth.admin.get_user_by_id(str(uuid.uuid4()))
    assert api_error(caught)[:2] == (403, "not_admin")


def test_supabase_admin_role_is_an_admin_too(gotrue):
    client = admin_client(gotrue.url, gotrue.make_key("supabase_admin"))
    assert client.auth.admin.list_users() == []


def test_the_client_sends_what_the_doc_says(gotrue, supabase_admin):
    supabase_admin.auth.admin.create_user(new_user())
    (request,) = gotrue.requests
    assert request.method == "POST" and request.path == "/auth/v1/admin/users"
    assert request.headers["authorization"] == f"Bearer {gotrue.service_role_key}"
    assert request.headers["APIKEY"] == gotrue.service_role_key
    assert request.headers["x-supabase-api-version"] == "2024-01-01"
    assert request.headers["content-type"].startswith("application/json")


# GET /admin/users/{id} ----------------------------------------------------------------------------


def test_get_user_by_id_200(supabase_admin):
    created = supabase_admin.auth.admin.create_user(new_user()).user
    fetched = supabase_admin.auth.admin.get_user_by_id(created.id).user
    assert fetched.confirmed_at == fetched.email_confirmed_at == created.email_confirmed_at
    assert fetched.model_dump(exclude={"confirmed_at"}) == created.model_dump(exclude={"confirmed_at"})


def test_get_unknown_user_is_404_user_not_found(supabase_admin):
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.get_user_by_id(str(uuid.uuid4()))
    assert api_error(caught) == (404, "user_not_found", "User not found")


def test_get_with_a_non_uuid_segment_is_404_validation_failed(gotrue):
    response = raw(gotrue, "GET", "/not-a-uuid")
    assert response.status_code == 404
    assert response.json() == {"code": "validation_failed", "message": "user_id must be an UUID"}


# GET /admin/users -------------------------------------------------------------------------------


def test_list_users_newest_first_tolerating_empty_paging(gotrue, supabase_admin):
    ids = [supabase_admin.auth.admin.create_user(new_user()).user.id for _ in range(3)]
    users = supabase_admin.auth.admin.list_users()
    assert [u.id for u in users] == ids[::-1]
    assert all(u.identities is None for u in users)
    request = gotrue.requests_for("list")[-1]
    assert request.query == {"page": "", "per_page": ""}
    assert [u.id for u in supabase_admin.auth.admin.list_users(page=2, per_page=2)] == [ids[0]]


def test_list_users_paging_headers(gotrue, supabase_admin):
    for _ in range(5):
        supabase_admin.auth.admin.create_user(new_user())
    response = raw(gotrue, "GET", params={"page": "1", "per_page": "2"})
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["Link"] == (
        '</admin/users?page=2&per_page=2>; rel="next", </admin/users?page=3&per_page=2>; rel="last"'
    )
    body = response.json()
    assert body["aud"] == "authenticated"
    assert len(body["users"]) == 2 and body["users"][0]["identities"] is None
    last = raw(gotrue, "GET", params={"page": "3", "per_page": "2"})
    assert last.headers["Link"] == '</admin/users?page=3&per_page=2>; rel="last"'
    assert len(last.json()["users"]) == 1


def test_list_users_when_empty(gotrue):
    response = raw(gotrue, "GET")
    assert response.json() == {"users": [], "aud": "authenticated"}
    assert response.headers["X-Total-Count"] == "0"
    assert response.headers["Link"] == '</admin/users?page=0>; rel="last"'


def test_list_users_bad_paging_is_400(gotrue):
    response = raw(gotrue, "GET", params={"page": "two"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert response.json()["message"].startswith("Bad Pagination Parameters: ")


# DELETE /admin/users/{id} -------------------------------------------------------------------------


def test_hard_delete_cascades_to_profile_and_check_ins(gotrue, supabase_admin):
    user = supabase_admin.auth.admin.create_user(new_user()).user
    keeper = supabase_admin.auth.admin.create_user(new_user()).user
    with connection.cursor() as cursor:
        for someone in (user, keeper):
            cursor.execute(
                "INSERT INTO public.profiles (id, email, role) VALUES (%s, %s, 'patient') ON CONFLICT (id) DO NOTHING",
                [someone.id, someone.email],
            )
            cursor.execute(
                "INSERT INTO public.check_ins (user_id, checkin_date) VALUES (%s, %s)",
                [someone.id, date(2026, 1, 1)],
            )

    assert supabase_admin.auth.admin.delete_user(user.id) is None

    for table, column in (
        ("auth.users", "id"),
        ("auth.identities", "user_id"),
        ("public.profiles", "id"),
        ("public.check_ins", "user_id"),
    ):
        assert db_rows(f"SELECT count(*) FROM {table} WHERE {column} = %s", [user.id]) == [(0,)], table
        assert db_rows(f"SELECT count(*) FROM {table} WHERE {column} = %s", [keeper.id]) == [(1,)], table
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.get_user_by_id(user.id)
    assert api_error(caught)[:2] == (404, "user_not_found")


def test_delete_answers_200_empty_object(gotrue, supabase_admin):
    user = supabase_admin.auth.admin.create_user(new_user()).user
    response = raw(gotrue, "DELETE", f"/{user.id}", body={"should_soft_delete": False})
    assert (response.status_code, response.json()) == (200, {})


def test_soft_delete_keeps_the_row_with_deleted_at(gotrue, supabase_admin):
    attributes = new_user()
    user = supabase_admin.auth.admin.create_user(attributes).user
    supabase_admin.auth.admin.delete_user(user.id, should_soft_delete=True)

    ((email, deleted_at, password_hash),) = db_rows(
        "SELECT email, deleted_at, encrypted_password FROM auth.users WHERE id = %s", [user.id]
    )
    assert deleted_at is not None and password_hash is None
    assert email != user.email
    assert gotrue.requests_for("delete")[-1].json == {"should_soft_delete": True}
    fetched = raw(gotrue, "GET", f"/{user.id}").json()
    assert fetched["deleted_at"]
    assert fetched["user_metadata"] == fetched["app_metadata"] == {}
    # The e-mail is free again; a second soft delete is a no-op.
    assert supabase_admin.auth.admin.create_user(new_user(email=attributes["email"])).user.id
    supabase_admin.auth.admin.delete_user(user.id, should_soft_delete=True)
    assert len(supabase_admin.auth.admin.list_users()) == 2


def test_delete_unknown_user_is_404(supabase_admin):
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.delete_user(str(uuid.uuid4()))
    assert api_error(caught) == (404, "user_not_found", "User not found")


def test_delete_with_a_body_that_is_not_json_is_400(gotrue, supabase_admin):
    user = supabase_admin.auth.admin.create_user(new_user()).user
    response = raw(gotrue, "DELETE", f"/{user.id}", body=b"{oops")
    assert (response.status_code, response.json()["code"]) == (400, "bad_json")
    assert user_count() == 1
