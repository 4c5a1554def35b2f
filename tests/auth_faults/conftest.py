"""Fixtures and helpers for the Auth fault scenarios (issue 9, "What it must show").

Every scenario runs against the Auth test server (``tests/support/gotrue/``) over real HTTP
with the real ``supabase`` client — in process through ``population_generate`` /
``synthetic_users_purge``, or as a ``manage.py`` subprocess pointed at the server — and asserts by SQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from synthadmin.auth import AuthGateway
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.services import user_creation
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import RunReport
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import ROOT
from tests.ops.helpers import test_database_env
from tests.services.conftest import auth_server, supabase_gateway  # noqa: F401  (fixtures)
from tests.support.gotrue import GoTrueDouble

END = dt.date(2026, 6, 30)


def generate(gateway: AuthGateway | None, **kwargs: Any) -> RunReport:
    """A small run through ``gateway`` (therapists 0, 5 days of history, a fixed seed)."""
    request = GenerationRequest(**{"seed": 9, "end_date": END, "checkin_days": 5, **kwargs})
    return population_generate(request=request, started_by=Starter("os:faults"), gateway=gateway)


def q(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def ours_in_auth() -> int:
    """Auth users synthadmin made (its ``app_metadata`` marker), by SQL."""
    return q("SELECT count(*) FROM auth.users WHERE raw_app_meta_data ? 'synthadmin'")[0][0]


def entry_states() -> dict[str, int]:
    """Ledger entries per state, by SQL."""
    return dict(q("SELECT state, count(*) FROM synthadmin.synthadmin_syntheticuser GROUP BY state"))


def settled_but_existing() -> list[tuple]:
    """Ledger entries marked not created (failed, collided, compensated) whose Auth user exists
    all the same: each would be an orphan no purge ever finds. Must be empty."""
    return q(
        "SELECT s.email, s.state FROM synthadmin.synthadmin_syntheticuser s JOIN auth.users u ON u.id = s.user_id "
        "WHERE s.state IN ('failed', 'collided', 'compensated')"
    )


def profiles_of(user_ids: list[uuid.UUID]) -> int:
    return q("SELECT count(*) FROM public.profiles WHERE id = ANY(%s)", [list(user_ids)])[0][0]


@pytest.fixture
def fixed_ids(monkeypatch) -> list[uuid.UUID]:
    """The ids the run will give its users, in order of creation (one worker: ``concurrency=1``)."""
    ids = [uuid.uuid4() for _ in range(50)]
    counter = itertools.count()
    monkeypatch.setattr(user_creation, "new_user_id", lambda: ids[next(counter)])
    return ids


@pytest.fixture
def gateway_with_deadline(auth_server: GoTrueDouble) -> Iterator[object]:  # noqa: F811
    """A gateway on the test server whose calls have a 2 s total deadline (factory: seconds)."""
    made: list[SupabaseAuthGateway] = []

    def make(seconds: float = 2.0) -> SupabaseAuthGateway:
        gateway = SupabaseAuthGateway(
            url=auth_server.url, key=auth_server.service_role_key, timeout=5.0, deadline_seconds=seconds
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def command_env(
    server: GoTrueDouble | None = None, url: str | None = None, **settings: str
) -> dict[str, str]:
    """A ``manage.py`` environment on the test database, pointed at the Auth test server (or
    at ``url``), with fast backoff; ``settings`` are further variables."""
    extra = {
        "SYNTHADMIN_AUTH_RETRY_BASE_SECONDS": "0.01",
        "SYNTHADMIN_AUTH_RETRY_MAX_WAIT": "0.05",
        **settings,
    }
    if server is not None:
        extra.update({"SUPABASE_URL": server.url, "SUPABASE_SERVICE_ROLE_KEY": server.service_role_key})
    elif url is not None:
        extra.update({"SUPABASE_URL": url, "SUPABASE_SERVICE_ROLE_KEY": "not-a-real-key"})
    else:
        extra["SYNTHADMIN_AUTH_BACKEND"] = "local"
    return test_database_env(extra)


def run_command(
    *args: str, env: dict[str, str], timeout: float = 120
) -> tuple[subprocess.CompletedProcess, float]:
    """``python manage.py *args`` in a subprocess; returns the result and the seconds it took."""
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, time.monotonic() - began


def error_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not the "using database" banner or a logged retry."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("synthadmin: using") and "Retrying" not in line
    ]


def dead_url() -> str:
    """The URL of a port nobody listens on (connections refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
