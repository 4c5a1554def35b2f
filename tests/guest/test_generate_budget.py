"""Generation is a good guest: a few database round trips per batch of users, not several per user.

Counted at the protocol level by the latency proxy the tests own (``tests/guest/proxied.py``),
connection set-up included: a run of one batch (100 patients) and of three, so that start-up
and per batch come apart. Budget (issue 20): ≤ 12 round trips per batch of up to 100 users on
the local backend — the batch's intents in one statement, its ``auth.users`` /
``auth.identities`` rows in one transaction, its profiles, check-ins (one COPY), links and
ledger completion in another. Through Supabase Auth each user stays one HTTP call (GoTrue has
no bulk create) and the batch's database work is the same few round trips.

The start-up (before the first user: the catalog read, the preflight, the run row) is another
engineer's work; it is printed, not asserted, here.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.guest.proxied import PER_BATCH_BUDGET, BatchFigures, database_through_proxy
from tests.invariants import assert_invariants, synthetic_counts

BATCH = 100
END = dt.date(2026, 6, 30)


def _generate_measured(proxy, patients: int, gateway=None, days: int = 5):
    """``population_generate`` of ``patients`` on a fresh connection; the report and the counts."""
    request = GenerationRequest(patients=patients, checkin_days=days, seed=patients, end_date=END)
    connection.close()
    with proxy.measuring() as counts:
        report = population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)
    assert report.status == "succeeded", report.error
    return report, counts


def _per_batch(first, second, what: str) -> BatchFigures:
    figures = BatchFigures(first.round_trips, second.round_trips)
    print(f"{what}: start-up {figures.start_up:g} round trips, {figures.per_batch:g} per batch")
    assert figures.per_batch <= PER_BATCH_BUDGET, f"{what}: {figures.per_batch} round trips per batch"
    return figures


def test_local_generate_round_trips_per_batch(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = BATCH
    with database_through_proxy() as proxy:
        one, first = _generate_measured(proxy, BATCH)
        three, second = _generate_measured(proxy, 3 * BATCH)

    assert (one.patients_created, three.patients_created) == (BATCH, 3 * BATCH)
    _per_batch(first, second, "generate, local backend")
    counts = synthetic_counts()
    assert counts["patients"] == counts["auth_users"] == 4 * BATCH
    assert counts["checkins"] == one.checkins_created + three.checkins_created
    assert_invariants(real_population)


def test_supabase_generate_one_call_per_user_and_a_few_round_trips_per_batch(
    real_population, settings, auth_server, supabase_gateway
):
    settings.SYNTHADMIN_BATCH_USERS = 20  # several batches from few (slower) HTTP users
    creates_before = auth_server.call_count("create")
    with database_through_proxy() as proxy:
        one, first = _generate_measured(proxy, 20, supabase_gateway)
        three, second = _generate_measured(proxy, 60, supabase_gateway)

    assert (one.patients_created, three.patients_created) == (20, 60)
    assert auth_server.call_count("create") - creates_before == 80  # GoTrue has no bulk create
    _per_batch(first, second, "generate, Supabase Auth")
    assert synthetic_counts()["auth_users"] == 80
    assert_invariants(real_population)
