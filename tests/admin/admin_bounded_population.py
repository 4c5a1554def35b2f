"""A population of about 25,000 check-ins for the bounded-admin tests, built once per module.

Through the services (local Auth backend): a run of 70 patients in the load-test mix and 2
therapists, 300 days each; a second run of 15 cycling patients, 200 days; then "Add check-in
days" (a backfill of 25 days) over every patient — which, for a patient whose first days were
missed, writes check-ins inside its generating window (the case where the later truth wins);
and three real patients with check-ins. Committed (the services use threads), analysed
like a live database, and removed when the module is done.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.realdata import insert_real_user

END = dt.date(2026, 6, 30)
LOAD_TEST_MIX = {"stable": 70, "cycling": 15, "depressive": 10, "rapid_cycling": 5}


@dataclass(frozen=True)
class Population:
    main_run: uuid.UUID
    cycling_run: uuid.UUID
    backfill_run: uuid.UUID
    real_patients: list[uuid.UUID]
    checkins: int

    def patient(self, run: uuid.UUID | None = None) -> uuid.UUID:
        """A complete synthetic patient (of ``run``, by default the main run)."""
        entry = SyntheticUser.objects.filter(
            run_id=run or self.main_run, role="patient", state="complete"
        ).order_by("id")
        return entry.values_list("user_id", flat=True)[0]


def _build() -> Population:
    starter = Starter("os:bounded-tests")
    main = population_generate(
        request=GenerationRequest(
            patients=70, therapists=2, checkin_days=300, mix=LOAD_TEST_MIX, seed=2020, end_date=END
        ),
        started_by=starter,
    )
    cycling = population_generate(
        request=GenerationRequest(patients=15, checkin_days=200, pattern="cycling", seed=77, end_date=END),
        started_by=starter,
    )
    patients = SyntheticUser.objects.filter(role="patient", state="complete").values_list(
        "user_id", flat=True
    )
    backfill, refusals = checkins_backfill(
        patient_ids=list(patients), days=25, pattern="depressive", started_by=starter, seed=5
    )
    assert backfill is not None and not refusals
    real = [
        insert_real_user(checkins=12),
        insert_real_user(checkins=3),
        insert_real_user(is_test_patient=None),
    ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum keeps on a live database: the planner's statistics
        cursor.execute("SELECT count(*) FROM public.check_ins")
        [count] = cursor.fetchone()
    return Population(main.run_id, cycling.run_id, backfill.run_id, real, int(count))


def _remove() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE auth.users CASCADE")
        cursor.execute(f"TRUNCATE {SyntheticRun._meta.db_table}, synthadmin_stateinterval CASCADE")


@pytest.fixture(scope="module")
def population(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[Population]:
    """The population, committed for the whole module (tests read it inside their own
    transactions, rolled back after each)."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _remove()
        built = _build()
        try:
            yield built
        finally:
            _remove()
