"""Shared fixtures: the real PostgreSQL (embedded or ``DATABASE_URL``) with the Supabase shape."""

from __future__ import annotations

import pytest
from django.db import connection

from synthadmin.db.base import describe


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return f"synthadmin database: {describe(settings.DATABASES['default'])}"


@pytest.fixture
def supabase_tables_cleanup(transactional_db: None):
    """Empty the Supabase tables after a test that commits.

    Django's flush only empties Django's own (managed) tables; ``auth.users`` cascades to
    identities, profiles and check-ins.
    """
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE auth.users CASCADE")
