"""Staff for the logins and preview tests (the admin's permission fixtures), and the Auth test server."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.admin.conftest import _staff
from tests.services.conftest import auth_server, supabase_gateway  # noqa: F401 - fixtures reused

FORM = {
    "patients": "3",
    "therapists": "1",
    "checkin_days": "14",
    "pattern": "stable",
    "seed": "7",
    "end_date": "",
}


@pytest.fixture
def starter(db) -> User:
    return _staff("starter", "generate_synthetic_data", "purge_synthetic_data")


@pytest.fixture
def other_generator(db) -> User:
    return _staff("colleague", "generate_synthetic_data")


@pytest.fixture
def other_plain(db) -> User:
    return _staff("viewer")


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests")
