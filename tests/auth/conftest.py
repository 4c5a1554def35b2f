"""Fixtures for the Supabase Auth path: the Auth test server on the test database, and the
official ``supabase`` client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
import supabase
from django.db import connection
from supabase import ClientOptions

from tests.dbutil import admin_conninfo
from tests.support.gotrue import GoTrueDouble


def test_database_conninfo() -> str:
    """A psycopg conninfo for the database the Django tests use (call with the db fixture active)."""
    conninfo = admin_conninfo(connection.settings_dict["NAME"])
    password = connection.settings_dict.get("PASSWORD")
    if password:
        conninfo = psycopg.conninfo.make_conninfo(conninfo, password=password)
    return conninfo


test_database_conninfo.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test (pytest reads it)


def admin_client(url: str, key: str, *, httpx_client: httpx.Client | None = None) -> supabase.Client:
    """The real client as synthadmin builds it: no session persistence, no token refresh."""
    options = ClientOptions(persist_session=False, auto_refresh_token=False, httpx_client=httpx_client)
    return supabase.create_client(url, key, options=options)


@pytest.fixture
def gotrue(supabase_tables_cleanup: None) -> Iterator[GoTrueDouble]:
    """The Auth test server on the test database; stopped, then ``auth.users`` truncated.

    Needs committed rows (``transactional_db`` through ``supabase_tables_cleanup``), because the
    server writes through its own connections.
    """
    double = GoTrueDouble(conninfo=test_database_conninfo())
    with double:
        yield double


@pytest.fixture
def supabase_admin(gotrue: GoTrueDouble) -> Iterator[supabase.Client]:
    """The official ``supabase`` client with the service-role key, against the test server."""
    client = admin_client(gotrue.url, gotrue.service_role_key)
    yield client
    client.auth.admin.close()
