"""A command's own start-up is a budget: at most 15 database round trips (issue 20), connection
set-up, system checks, the transaction-pooler probe and the catalog read included.

Each command runs as a user runs it (``manage.py``, a new process: nothing done before), through
the latency proxy the tests own, over one batch and over three (batches of one patient, so that
per batch and start-up come apart whether generation writes a user or a batch at a time); the
start-up is what does not grow with the batches (``BatchFigures``). Purge's is in
``test_purge_budget``.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.dbutil import database_url, manage
from tests.guest.proxied import POLL_PAST_THE_RUN, START_UP_BUDGET, BatchFigures, database_through_proxy
from tests.invariants import assert_invariants, synthetic_counts

END = dt.date(2026, 6, 30)
#: One patient per batch, one worker: the batches of a run of 1 and of 3 patients come apart.
ENV = {
    "SYNTHADMIN_BATCH_USERS": "1",
    "SYNTHADMIN_AUTH_CONCURRENCY": "1",
    "SYNTHADMIN_AUTH_BACKEND": "local",
    **POLL_PAST_THE_RUN,
}


def _generate(patients: int):
    request = GenerationRequest(patients=patients, checkin_days=2, seed=patients, end_date=END)
    report = population_generate(request=request, started_by=Starter("os:tester"))
    assert report.status == "succeeded"
    return report


def _round_trips(proxy, *args: str) -> int:
    name = connection.settings_dict["NAME"]
    env = {**ENV, "DATABASE_URL": database_url(name).rsplit("@", 1)[0] + f"@127.0.0.1:{proxy.port}/{name}"}
    with proxy.measuring() as counts:
        manage(*args, "-v", "0", env=env)
    return counts.round_trips


def _assert_start_up(what: str, figures: BatchFigures) -> None:
    print(f"{what}: start-up {figures.start_up:g} round trips, {figures.per_batch:g} per batch")
    assert figures.start_up <= START_UP_BUDGET, f"{what}: start-up {figures.start_up:g} round trips"


def test_generate_command_start_up_within_budget(real_population):
    with database_through_proxy() as proxy:
        figures = BatchFigures(
            *(
                _round_trips(
                    proxy, "generate_synthetic", "--patients", str(n), "--checkins", "2", "--seed", "5"
                )
                for n in (1, 3)
            )
        )
    assert synthetic_counts()["patients"] == 4
    _assert_start_up("generate_synthetic, local backend", figures)
    assert_invariants(real_population)


def test_extend_command_start_up_within_budget(real_population):
    one, three = _generate(1), _generate(3)
    with database_through_proxy() as proxy:
        backfill = BatchFigures(
            *(
                _round_trips(proxy, "extend_synthetic", "--days", "2", "--run", str(r.run_id))
                for r in (one, three)
            )
        )
    _assert_start_up("extend_synthetic --days", backfill)
    assert_invariants(real_population)


def test_extend_to_today_command_start_up_within_budget(real_population):
    one, three = _generate(1), _generate(3)
    with database_through_proxy() as proxy:
        to_today = BatchFigures(
            *(
                _round_trips(proxy, "extend_synthetic", "--to-today", "--run", str(r.run_id))
                for r in (one, three)
            )
        )
    _assert_start_up("extend_synthetic --to-today", to_today)


def test_export_command_start_up_within_budget(real_population, tmp_path):
    one, three = _generate(1), _generate(3)
    with database_through_proxy() as proxy:
        figures = BatchFigures(
            *(
                _round_trips(
                    proxy, "export_synthetic", "--run", str(r.run_id), "--output", str(tmp_path / f"{n}.csv")
                )
                for n, r in ((1, one), (3, three))
            )
        )
    assert (tmp_path / "3.csv").read_text().count("\n") > (tmp_path / "1.csv").read_text().count("\n")
    _assert_start_up("export_synthetic", figures)
