"""Fixtures of the good-guest tests: the Auth test server and a Supabase gateway on it."""

from tests.services.conftest import auth_server, supabase_gateway  # noqa: F401 - fixtures reused
