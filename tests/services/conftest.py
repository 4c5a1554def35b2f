"""Fixtures for the service's Auth: the Auth test server and a Supabase gateway on it, and the
in-memory gateway as the configured backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from synthadmin.auth import locmem
from synthadmin.auth.base import AuthUserInfo
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


@pytest.fixture
def locmem_auth(settings) -> Iterator[dict[uuid.UUID, AuthUserInfo]]:
    """The in-memory gateway as ``SYNTHADMIN_AUTH_BACKEND``; yields its users (emptied before and
    after). It writes no ``auth.users`` row, so a profile written for one of its users is refused
    by the foreign key on ``profiles.id``."""
    settings.SYNTHADMIN_AUTH_BACKEND = "synthadmin.auth.locmem.LocMemAuthGateway"
    locmem.users.clear()
    yield locmem.users
    locmem.users.clear()
