"""Staff users with and without synthadmin's permissions, for the admin's permission matrix."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

# The bounded-admin tests' population, built once per module that asks for it.
from tests.admin.admin_bounded_population import population  # noqa: F401

PERMISSIONS = {"generate": "generate_synthetic_data", "purge": "purge_synthetic_data"}


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests", is_staff=True)
    perms = Permission.objects.filter(
        content_type__app_label__in=["profiles", "synthadmin", "checkins"],
        codename__in=["view_profile", "view_syntheticrun", "view_syntheticuser", "view_checkin", *codenames],
    )
    user.user_permissions.set(perms)
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def staff_plain(db):
    return _staff("plain")


@pytest.fixture
def staff_generator(db):
    return _staff("generator", PERMISSIONS["generate"])


@pytest.fixture
def staff_purger(db):
    return _staff("purger", PERMISSIONS["purge"])


@pytest.fixture
def staff_all(db):
    """Every synthadmin permission, seeing real patients included."""
    return _staff("operator", *PERMISSIONS.values(), "view_real_patients")
