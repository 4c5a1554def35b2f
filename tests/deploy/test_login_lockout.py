"""Brute-force protection of the admin login (issue 22, item 4; django-axes): ten failed logins
in a row lock that login for ``SYNTHADMIN_LOGIN_LOCKOUT_MINUTES`` (15) after the last attempt,
the right password included; other logins are not affected; a success resets the count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from freezegun import freeze_time

pytestmark = pytest.mark.django_db

LOGIN = "admin:login"
PASSWORD = "a-long-test-password"


@pytest.fixture
def staff(db):
    User.objects.create_user("alice", password=PASSWORD, is_staff=True)
    User.objects.create_user("bob", password=PASSWORD, is_staff=True)


def _login(client, username: str, password: str):
    return client.post(
        reverse(LOGIN), {"username": username, "password": password, "next": reverse("admin:index")}
    )


def test_ten_failed_logins_lock_that_login_for_a_while(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    start = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    with freeze_time(start) as clock:
        for _ in range(9):
            assert _login(client, "alice", "wrong").status_code == 200  # the form, with its error
        locked = _login(client, "alice", "wrong")  # the tenth
        assert locked.status_code == 429 and 'id="login-locked"' in locked.content.decode()
        assert _login(client, "alice", PASSWORD).status_code == 429  # the right password too
        assert _login(client, "bob", PASSWORD).status_code == 302  # another login is not locked
        clock.tick(dt.timedelta(minutes=14))
        # Still locked; trying again while locked starts the 15 minutes again (django-axes).
        assert _login(client, "alice", PASSWORD).status_code == 429
        clock.tick(dt.timedelta(minutes=14))
        assert _login(client, "alice", PASSWORD).status_code == 429
        clock.tick(dt.timedelta(minutes=16))  # 16 minutes after the last attempt: over
        assert _login(client, "alice", PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, staff):
    for _ in range(9):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(9):
        assert _login(client, "alice", "wrong").status_code == 200
    assert _login(client, "alice", PASSWORD).status_code == 302
