"""Fixtures of the good-guest tests: the Auth test server and a Supabase gateway on it."""

import pytest

from tests.guest.proxied import POLL_PAST_THE_RUN
from tests.services.conftest import auth_server, supabase_gateway  # noqa: F401 - fixtures reused


@pytest.fixture(autouse=True)
def _poll_past_the_run(settings):
    """In-process runs: the cancel poll's clock-driven round trips stay out of the counts."""
    (value,) = POLL_PAST_THE_RUN.values()
    settings.SYNTHADMIN_CANCEL_POLL_SECONDS = float(value)
