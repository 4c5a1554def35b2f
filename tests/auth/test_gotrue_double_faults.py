"""Injected faults of the Auth test server, as the official client sees them: which error type,
status and code come out, and whether anything was stored."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from django.db import connection
from supabase_auth.errors import AuthApiError, AuthRetryableError

from tests.auth.conftest import admin_client

pytestmark = pytest.mark.django_db(transaction=True)


def new_user(**overrides):
    user_id = uuid.uuid4()
    return {
        "id": str(user_id),
        "email": f"fault-{user_id.hex[:10]}@example.com",
        "password": "pw",
        "email_confirm": True,
        "user_metadata": {},
        **overrides,
    }


def stored_ids() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text FROM auth.users")
        return {row[0] for row in cursor.fetchall()}


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_statuses_are_retryable_and_store_nothing(gotrue, supabase_admin, status):
    gotrue.faults.fail_next(2, status=status)
    for _ in range(2):
        with pytest.raises(AuthRetryableError) as caught:
            supabase_admin.auth.admin.create_user(new_user())
        assert caught.value.status == status
        assert caught.value.code is None
    assert stored_ids() == set()
    # Only two calls were used up.
    user = supabase_admin.auth.admin.create_user(new_user()).user
    assert stored_ids() == {user.id}
    assert gotrue.call_count("create") == 3
    assert [r.status for r in gotrue.requests_for("create")] == [status, status, 200]


def test_429_is_a_plain_api_error(gotrue, supabase_admin):
    gotrue.faults.fail_next(status=429)
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user())
    assert (caught.value.status, caught.value.code) == (429, "over_request_rate_limit")
    assert caught.value.message == "Request rate limit reached"
    assert stored_ids() == set()


def test_injected_500_and_custom_codes(gotrue, supabase_admin):
    gotrue.faults.fail_next(status=500)
    gotrue.faults.fail_next(status=500, code="unexpected_failure", message="Database error creating new user")
    with pytest.raises(AuthApiError) as first:
        supabase_admin.auth.admin.create_user(new_user())
    with pytest.raises(AuthApiError) as second:
        supabase_admin.auth.admin.create_user(new_user())
    assert (first.value.status, first.value.code, first.value.message) == (
        500,
        "unexpected_failure",
        "Internal Server Error",
    )
    assert second.value.message == "Database error creating new user"
    assert gotrue.faults.pending == 0


def test_a_fault_can_target_one_id(gotrue, supabase_admin):
    target = new_user()
    gotrue.faults.fail_next(status=503, user_id=target["id"])
    bystander = supabase_admin.auth.admin.create_user(new_user()).user
    with pytest.raises(AuthRetryableError):
        supabase_admin.auth.admin.create_user(target)
    supabase_admin.auth.admin.create_user(target)
    assert stored_ids() == {bystander.id, target["id"]}


def test_faults_on_other_routes(gotrue, supabase_admin):
    user = supabase_admin.auth.admin.create_user(new_user()).user
    gotrue.faults.fail_next(status=503, route="get")
    gotrue.faults.fail_next(status=502, route="delete")
    with pytest.raises(AuthRetryableError):
        supabase_admin.auth.admin.get_user_by_id(user.id)
    with pytest.raises(AuthRetryableError):
        supabase_admin.auth.admin.delete_user(user.id)
    assert stored_ids() == {user.id}
    supabase_admin.auth.admin.delete_user(user.id)
    assert stored_ids() == set()


@pytest.mark.exclusive
def test_timeout_is_retryable_with_status_0_and_stores_nothing(gotrue):
    client = admin_client(gotrue.url, gotrue.service_role_key, httpx_client=httpx.Client(timeout=0.3))
    gotrue.faults.timeout_next(seconds=1.0)
    started = time.monotonic()
    with pytest.raises(AuthRetryableError) as caught:
        client.auth.admin.create_user(new_user())
    assert time.monotonic() - started < 0.9
    assert caught.value.status == 0
    assert "timed out" in caught.value.message
    # The server gives up after its sleep: 504, nothing stored.
    assert wait_for(lambda: gotrue.requests_for("create")[0].status == 504)
    assert stored_ids() == set()
    # The fault was used up: the next call is served at once.
    assert client.auth.admin.create_user(new_user()).user.id


def test_timeout_then_process_creates_the_user_the_client_never_heard_of(gotrue):
    client = admin_client(gotrue.url, gotrue.service_role_key, httpx_client=httpx.Client(timeout=0.3))
    attributes = new_user()
    gotrue.faults.timeout_next(seconds=0.8, then_process=True)
    with pytest.raises(AuthRetryableError) as caught:
        client.auth.admin.create_user(attributes)
    assert caught.value.status == 0
    assert wait_for(lambda: stored_ids() == {attributes["id"]})


def test_duplicate_email_next_answers_422_without_storing(gotrue, supabase_admin):
    gotrue.faults.duplicate_email_next(1)
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(new_user())
    assert (caught.value.status, caught.value.code) == (422, "email_exists")
    assert caught.value.message == "A user with this email address has already been registered"
    assert stored_ids() == set()
    assert supabase_admin.auth.admin.create_user(new_user()).user.id


def test_existing_id_takes_the_genuine_duplicate_id_path(gotrue, supabase_admin):
    attributes = new_user()
    gotrue.faults.existing_id(uuid.UUID(attributes["id"]))
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(attributes)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        500,
        "unexpected_failure",
        "Database error creating new user",
    )
    found = supabase_admin.auth.admin.get_user_by_id(attributes["id"]).user
    assert found.email != attributes["email"]


def test_crash_after_create_stores_the_user_then_answers_500(gotrue, supabase_admin):
    attributes = new_user()
    gotrue.faults.crash_after_create_next()
    with pytest.raises(AuthApiError) as caught:
        supabase_admin.auth.admin.create_user(attributes)
    assert (caught.value.status, caught.value.code) == (500, "unexpected_failure")
    assert supabase_admin.auth.admin.get_user_by_id(attributes["id"]).user.email == attributes["email"]


def test_crash_after_create_can_drop_the_connection(gotrue, supabase_admin):
    attributes = new_user()
    gotrue.faults.crash_after_create_next(status=None)
    with pytest.raises(AuthRetryableError) as caught:
        supabase_admin.auth.admin.create_user(attributes)
    assert caught.value.status == 0
    assert stored_ids() == {attributes["id"]}
    # The same client keeps working afterwards.
    assert supabase_admin.auth.admin.get_user_by_id(attributes["id"]).user.id == attributes["id"]
    assert gotrue.requests_for("create")[0].status is None


def test_crash_after_create_skips_failed_creates(gotrue, supabase_admin):
    gotrue.faults.crash_after_create_next(status=502)
    with pytest.raises(AuthApiError):
        supabase_admin.auth.admin.create_user(new_user(email="bad email"))
    attributes = new_user()
    with pytest.raises(AuthRetryableError) as caught:
        supabase_admin.auth.admin.create_user(attributes)
    assert caught.value.status == 502
    assert stored_ids() == {attributes["id"]}


@pytest.mark.parametrize(
    ("status", "code", "expected_code"),
    [(401, None, None), (401, "no_authorization", "no_authorization"), (403, "not_admin", "not_admin")],
)
def test_reject_all_until_cleared(gotrue, supabase_admin, status, code, expected_code):
    if code is None:
        gotrue.faults.reject_all(status, code=None, message="Invalid API key")
    else:
        gotrue.faults.reject_all(status)
    calls = [
        lambda: supabase_admin.auth.admin.create_user(new_user()),
        lambda: supabase_admin.auth.admin.list_users(),
        lambda: supabase_admin.auth.admin.get_user_by_id(str(uuid.uuid4())),
        lambda: supabase_admin.auth.admin.delete_user(str(uuid.uuid4())),
    ]
    for call in calls:
        with pytest.raises(AuthApiError) as caught:
            call()
        assert (caught.value.status, caught.value.code) == (status, expected_code)
    assert stored_ids() == set()
    gotrue.faults.clear()
    assert supabase_admin.auth.admin.create_user(new_user()).user.id


@pytest.mark.exclusive
def test_latency_applies_to_every_request(gotrue, supabase_admin):
    gotrue.faults.latency(0.05)
    started = time.monotonic()
    supabase_admin.auth.admin.list_users()
    user = supabase_admin.auth.admin.create_user(new_user()).user
    supabase_admin.auth.admin.get_user_by_id(user.id)
    assert time.monotonic() - started >= 0.15
    gotrue.faults.latency(0)
    started = time.monotonic()
    supabase_admin.auth.admin.list_users()
    assert time.monotonic() - started < 0.05


def test_a_service_time_answers_each_request_that_long_after_it_was_read(gotrue, supabase_admin):
    """``service_time``: a server "at 200 ms per call", its own work (the create writes
    ``auth.users``) inside the 200 ms rather than on top of them, as ``latency`` adds it. Only
    "no sooner" is asserted of the clock here: a machine busy with other tests may answer later."""
    gotrue.faults.service_time(0.2)
    user = supabase_admin.auth.admin.create_user(new_user()).user
    supabase_admin.auth.admin.get_user_by_id(user.id)
    served = [r.answered_at - r.received_at for r in gotrue.requests if r.answered_at is not None]
    assert len(served) == 2 and all(seconds >= 0.2 for seconds in served), served
    gotrue.faults.service_time(30)
    gotrue.faults.clear()  # ...takes it away: answered long before 30 s
    gotrue.reset()
    supabase_admin.auth.admin.get_user_by_id(user.id)
    (record,) = gotrue.requests
    assert record.answered_at is not None and record.answered_at - record.received_at < 10


def test_counters_and_records(gotrue, supabase_admin):
    user = supabase_admin.auth.admin.create_user(new_user()).user
    supabase_admin.auth.admin.get_user_by_id(user.id)
    supabase_admin.auth.admin.list_users()
    supabase_admin.auth.admin.delete_user(user.id)
    httpx.get(f"{gotrue.url}/auth/v1/settings")
    assert gotrue.calls == {"create": 1, "get": 1, "list": 1, "delete": 1, "other": 1}
    assert [r.route for r in gotrue.requests] == ["create", "get", "list", "delete", "other"]
    assert gotrue.requests[-1].status == 404
    gotrue.reset()
    assert gotrue.requests == [] and gotrue.calls == {}


def test_fault_plan_rejects_unknown_routes(gotrue):
    with pytest.raises(ValueError, match="route"):
        gotrue.faults.fail_next(route="update")


def test_the_server_can_be_stopped_and_started_again(gotrue, supabase_admin):
    supabase_admin.auth.admin.create_user(new_user())
    gotrue.stop()
    with pytest.raises(AuthRetryableError) as caught:
        supabase_admin.auth.admin.list_users()
    assert caught.value.status == 0
    gotrue.start()
    client = admin_client(gotrue.url, gotrue.service_role_key)
    assert len(client.auth.admin.list_users()) == 1
