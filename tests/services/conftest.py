"""Fixtures for the Supabase path of the service: the Auth test server and a gateway on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synthadmin.auth.supabase import SupabaseAuthGateway
from tests.auth.conftest import test_database_conninfo
from tests.support.gotrue import GoTrueDouble


@pytest.fixture
def auth_server(supabase_tables_cleanup: None, fast_retries) -> Iterator[GoTrueDouble]:
    double = GoTrueDouble(conninfo=test_database_conninfo())
    with double:
        yield double


@pytest.fixture
def supabase_gateway(auth_server: GoTrueDouble) -> Iterator[SupabaseAuthGateway]:
    """The real supabase client behind our gateway; a short client timeout keeps timeout tests fast."""
    gateway = SupabaseAuthGateway(url=auth_server.url, key=auth_server.service_role_key, timeout=0.5)
    yield gateway
    gateway.close()
