"""Adding check-in days is a good guest: a few database round trips per batch of patients.

Extend to today and "Add check-in days" (backfill), each over one batch (100 patients) and over
three, counted at the protocol level by the latency proxy the tests own
(``tests/guest/proxied.py``), connection set-up included. Budget (issue 20): start-up ≤ 15, ≤ 12
per batch of up to 100 patients. The days written are checked too: every patient extended, each
ledger count equal to its check-ins, no duplicate date, real rows untouched.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from synthadmin.services.additions import patients_selected
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import RunReport
from synthadmin.services.requests import GenerationRequest
from tests.guest.proxied import BatchFigures, database_through_proxy
from tests.invariants import assert_invariants

BATCH = 100
STARTER = Starter("os:tester")


def _generate(patients: int, *, ended_days_ago: int) -> RunReport:
    end = timezone.localdate() - dt.timedelta(days=ended_days_ago)
    request = GenerationRequest(patients=patients, checkin_days=3, seed=patients, end_date=end, adherence=1.0)
    report = population_generate(request=request, started_by=STARTER)
    assert report.status == "succeeded"
    return report


def _measured(proxy, work):
    connection.close()  # counted from a new connection, as a command starts
    with proxy.measuring() as counts:
        result = work()
    return result, counts.round_trips


def test_extend_to_today_round_trips_at_start_up_and_per_batch(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = BATCH
    one, three = _generate(BATCH, ended_days_ago=4), _generate(3 * BATCH, ended_days_ago=4)

    with database_through_proxy() as proxy:
        small, first = _measured(proxy, lambda: checkins_extend_to_today(run=one.run_id, started_by=STARTER))
        big, second = _measured(proxy, lambda: checkins_extend_to_today(run=three.run_id, started_by=STARTER))

    assert (small.patients_extended, big.patients_extended) == (BATCH, 3 * BATCH)
    assert small.report.checkins_created == 4 * BATCH and big.report.checkins_created == 12 * BATCH
    assert small.report.failures == big.report.failures == []
    BatchFigures(first, second).assert_within_budget("extend to today")
    assert_invariants(real_population)


def test_add_checkin_days_round_trips_at_start_up_and_per_batch(real_population, settings):
    settings.SYNTHADMIN_BATCH_USERS = BATCH
    one, three = _generate(BATCH, ended_days_ago=0), _generate(3 * BATCH, ended_days_ago=0)

    def backfill(run_id):
        ids = patients_selected(patient_ids=None, run=run_id, all_patients=False)
        return checkins_backfill(patient_ids=ids, days=2, pattern="stable", started_by=STARTER, seed=1)

    with database_through_proxy() as proxy:
        (small, refused), first = _measured(proxy, lambda: backfill(one.run_id))
        (big, _), second = _measured(proxy, lambda: backfill(three.run_id))

    assert refused == [] and small.failures == big.failures == []
    assert small.parameters["patients"] == BATCH and big.parameters["patients"] == 3 * BATCH
    assert small.checkins_created > 0 and big.checkins_created > 0
    BatchFigures(first, second).assert_within_budget("add check-in days")
    assert_invariants(real_population)
