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


@pytest.fixture
def real_population(supabase_tables_cleanup):
    """Real users the app owns (a therapist, three patients with history, a NULL-flag legacy one).

    Returns the snapshot of every real row, for ``assert_invariants``.
    """
    from tests.realdata import insert_real_user, snapshot_real_rows

    therapist = insert_real_user(role="therapist", email="dr.real@example.org")
    for _ in range(3):
        insert_real_user(therapist_id=therapist, checkins=5)
    insert_real_user(is_test_patient=None, email="legacy@example.org", checkins=2)
    return snapshot_real_rows()


@pytest.fixture
def fast_retries(settings):
    """Backoff in milliseconds, so retry tests stay fast (the policy itself is unchanged)."""
    settings.SYNTHADMIN_AUTH_RETRY_BASE_SECONDS = 0.001
    settings.SYNTHADMIN_AUTH_RETRY_MAX_WAIT = 0.01
    return settings
