"""Fixtures for the tests that run on each database shape (``tests/shapes.py``)."""

from __future__ import annotations

import pytest

from tests.realdata import insert_real_user, snapshot_real_rows
from tests.shapes import SHAPES, shape_install


@pytest.fixture(params=SHAPES)
def shape(request, transactional_db):
    """Each shape in turn, installed in the test database; the baseline is put back afterwards."""
    shape_install(request.param)
    yield request.param
    shape_install("baseline")


@pytest.fixture
def live_shape(transactional_db):
    shape_install("live")
    yield "live"
    shape_install("baseline")


@pytest.fixture
def real_rows():
    """Real users the app owns on the installed shape (request it after ``shape``/``live_shape``).

    Returns the snapshot of every real row, for ``assert_invariants``.
    """
    therapist = insert_real_user(role="therapist", email="dr.real@example.org")
    for _ in range(2):
        insert_real_user(therapist_id=therapist, checkins=4)
    insert_real_user(is_test_patient=None, email="legacy@example.org", checkins=2)
    return snapshot_real_rows()


# The Auth test server and a supabase-client gateway on it (defined for tests/services).
from tests.services.conftest import auth_server, supabase_gateway  # noqa: E402, F401
