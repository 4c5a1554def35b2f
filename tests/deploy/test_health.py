"""The health endpoint in the process (the served one is in test_serve_command.py): 503 while a
migration of this code is not applied, and cheap once it has seen them all."""

from __future__ import annotations

import pytest
from django.db import connection

from synthadmin import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_check(monkeypatch):
    monkeypatch.setattr(health, "_migrations", health._MigrationsOnDisk())


def test_a_migration_not_applied_is_503(client):
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DELETE FROM django_migrations WHERE app = 'synthadmin' AND name LIKE '0001%%'")
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "unavailable",
        "database": "ok",
        "migrations": "unapplied",
        "workers": 0,
    }


def test_once_all_were_seen_applied_a_probe_is_two_statements(client, django_assert_num_queries):
    assert client.get("/healthz").json()["status"] == "ok"
    with django_assert_num_queries(4):  # SAVEPOINT, SET LOCAL, the worker registry, RELEASE
        assert client.get("/healthz").status_code == 200


def test_only_get_and_head_are_answered_here(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 404
