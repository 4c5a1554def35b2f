"""The in-memory gateway honours the gateway contract where it applies: the caller's id, typed
collisions (id; e-mail whatever its case), None / False for an unknown id, a set stop event
stops the call before anything is made, a password bcrypt would refuse is refused, the preflight
has nothing to check; and every gateway ``get_gateway`` makes shares one store. No database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from synthadmin.auth import get_gateway, locmem
from synthadmin.auth.base import APP_METADATA_KEY, AuthUserInfo, NewAuthUser
from synthadmin.auth.locmem import LocMemAuthGateway
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthRejectedError,
    DuplicateEmailError,
    DuplicateUserIdError,
)

DOTTED_PATH = "synthadmin.auth.locmem.LocMemAuthGateway"


def new_user(**overrides) -> NewAuthUser:
    user_id = overrides.pop("id", None) or uuid.uuid4()
    return NewAuthUser(
        id=user_id,
        email=overrides.pop("email", None) or f"Mem-{user_id.hex[:10]}@Example.com",
        user_metadata={"name": "Memory"},
        app_metadata={APP_METADATA_KEY: {"synthetic": True}},
        **overrides,
    )


@pytest.fixture(autouse=True)
def shared_users() -> Iterator[dict[uuid.UUID, AuthUserInfo]]:
    locmem.users.clear()
    yield locmem.users
    locmem.users.clear()


@pytest.fixture
def gateway() -> Iterator[LocMemAuthGateway]:
    with LocMemAuthGateway() as gateway:
        yield gateway


def test_create_keeps_our_id_and_metadata_and_lowercases_the_email(gateway):
    user = new_user()
    created = gateway.create_user(user)
    assert created.id == user.id
    assert created.email == user.email.lower()
    assert created.app_metadata == {APP_METADATA_KEY: {"synthetic": True}}
    assert created.user_metadata == {"name": "Memory"}
    assert gateway.get_user(user.id) == created


def test_collisions_keep_their_types(gateway):
    first = new_user()
    gateway.create_user(first)
    with pytest.raises(DuplicateUserIdError):
        gateway.create_user(new_user(id=first.id))
    with pytest.raises(DuplicateEmailError):
        gateway.create_user(new_user(email=first.email.upper()))
    assert list(gateway.users) == [first.id]


def test_delete_then_unknown(gateway):
    user = new_user()
    gateway.create_user(user)
    assert gateway.delete_user(user.id) is True
    assert gateway.delete_user(user.id) is False
    assert gateway.get_user(user.id) is None
    assert gateway.get_user(uuid.uuid4()) is None


def test_a_set_stop_event_stops_every_call_before_anything_is_made():
    stop = threading.Event()
    gateway = LocMemAuthGateway(cancel=stop)
    kept = new_user()
    gateway.create_user(kept)
    stop.set()
    calls: list[Callable[[], object]] = [
        lambda: gateway.create_user(new_user()),
        lambda: gateway.get_user(kept.id),
        lambda: gateway.delete_user(kept.id),
    ]
    for call in calls:
        with pytest.raises(AuthCancelledError) as caught:
            call()
        assert caught.value.user_may_exist is False
    assert list(gateway.users) == [kept.id]


@pytest.mark.parametrize(("password", "refused"), [("a" * 72, False), ("a" * 73, True), ("é" * 37, True)])
def test_a_password_bcrypt_cannot_hash_is_refused(gateway, password, refused):
    user = new_user(password=password)
    if refused:
        with pytest.raises(AuthRejectedError) as caught:
            gateway.create_user(user)
        assert (caught.value.status, caught.value.code) == (400, "validation_failed")
        assert gateway.users == {}
    else:
        assert gateway.create_user(user).id == user.id


def test_preflight_has_nothing_to_check(gateway):
    assert gateway.preflight() is None
    assert gateway.users == {}


def test_get_gateway_by_dotted_path_shares_one_store(settings, shared_users):
    settings.SYNTHADMIN_AUTH_BACKEND = DOTTED_PATH
    user = new_user()
    with get_gateway() as first:
        assert isinstance(first, LocMemAuthGateway) and first.name == "locmem"
        first.create_user(user)
    with get_gateway(DOTTED_PATH) as second:
        assert second.get_user(user.id) is not None
    assert list(shared_users) == [user.id]


def test_a_gateway_given_its_own_store_keeps_to_it(shared_users):
    own: dict[uuid.UUID, AuthUserInfo] = {}
    user = new_user()
    LocMemAuthGateway(store=own).create_user(user)
    assert list(own) == [user.id] and shared_users == {}
