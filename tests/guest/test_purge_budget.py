"""Purge is a good guest: a few database round trips per batch of users, not several per user.

Counted at the protocol level by the latency proxy the tests own (``tests/guest/proxied.py``),
connection set-up included: the purge of one batch (100 users) and of three, so that start-up
and per batch come apart. Budget (issue 20): start-up ≤ 15, ≤ 12 per batch of up to 100 users —
on the local backend, where the batch's ``auth.users`` rows go in one statement; through
Supabase Auth each user stays one HTTP call (GoTrue has no bulk delete) and the database work
of a batch is still one statement, made while the next calls are in flight.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connection

from synthadmin.auth import AuthGateway
from synthadmin.services.cancel import runs_purge
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import database_url, manage
from tests.guest.proxied import POLL_PAST_THE_RUN, START_UP_BUDGET, BatchFigures, database_through_proxy
from tests.invariants import assert_invariants, synthetic_counts

BATCH = 100
END = dt.date(2026, 6, 30)


def _generate(patients: int, gateway: AuthGateway | None = None):
    request = GenerationRequest(patients=patients, checkin_days=2, seed=patients, end_date=END)
    report = population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)
    assert report.status == "succeeded"
    return report


def _purge_measured(proxy, run_id, gateway=None):
    """``runs_purge`` of one run (as ``purge_synthetic --run`` calls it) on a fresh connection;
    the report and what the proxy counted."""
    connection.close()
    with proxy.measuring() as counts:
        report = runs_purge(run=run_id, gateway=gateway)
    return report, counts


def test_local_purge_round_trips_at_start_up_and_per_batch(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = BATCH
    one, three = _generate(BATCH), _generate(3 * BATCH)

    with database_through_proxy() as proxy:
        small, first = _purge_measured(proxy, one.run_id)
        big, second = _purge_measured(proxy, three.run_id)

    assert (small.users_deleted, big.users_deleted) == (BATCH, 3 * BATCH)
    assert small.errors == big.errors == []
    BatchFigures(first.round_trips, second.round_trips).assert_within_budget("purge, local backend")
    assert second.connections == 1  # the purge's own: no worker thread opens one to delete
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def test_supabase_purge_one_call_per_user_and_a_few_round_trips_per_batch(
    real_population, settings, auth_server, supabase_gateway
):
    settings.SYNTHADMIN_BATCH_USERS = 20  # several batches from few (slower) HTTP users
    one, three = _generate(20, supabase_gateway), _generate(60, supabase_gateway)
    deletes_before = auth_server.call_count("delete")

    with database_through_proxy() as proxy:
        small, first = _purge_measured(proxy, one.run_id, supabase_gateway)
        big, second = _purge_measured(proxy, three.run_id, supabase_gateway)

    assert (small.users_deleted, big.users_deleted) == (20, 60)
    assert auth_server.call_count("delete") - deletes_before == 80  # GoTrue has no bulk delete
    BatchFigures(first.round_trips, second.round_trips).assert_within_budget("purge, Supabase Auth")
    assert second.connections == 1  # the Auth workers touch no database
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    assert_invariants(real_population)


def _command_round_trips(proxy, run_id) -> int:
    env = {
        "DATABASE_URL": database_url(connection.settings_dict["NAME"]).rsplit("@", 1)[0]
        + f"@127.0.0.1:{proxy.port}/{connection.settings_dict['NAME']}",
        "SYNTHADMIN_BATCH_USERS": str(BATCH),
        **POLL_PAST_THE_RUN,
    }
    with proxy.measuring() as counts:
        manage("purge_synthetic", "--run", str(run_id), "--yes", "-v", "0", env=env)
    return counts.round_trips


@pytest.fixture
def command_figures(real_population):
    """``manage.py purge_synthetic --run ID --yes`` as a user runs it, through the proxy: the
    round trips of one batch and of three."""
    one, three = _generate(BATCH), _generate(3 * BATCH)
    with database_through_proxy() as proxy:
        figures = BatchFigures(
            _command_round_trips(proxy, one.run_id), _command_round_trips(proxy, three.run_id)
        )
    assert synthetic_counts()["auth_users"] == 0
    assert_invariants(real_population)
    return figures


def test_purge_command_round_trips_per_batch(command_figures):
    print(
        f"purge_synthetic: {command_figures.one_batch} round trips for one batch, {command_figures.three_batches} for three"
    )
    assert command_figures.per_batch <= 12


def test_purge_command_start_up_within_budget(command_figures):
    assert command_figures.start_up <= START_UP_BUDGET, os.linesep.join(
        [f"start-up {command_figures.start_up:g} round trips"]
    )
