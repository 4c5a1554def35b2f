"""The export's round trips, counted at the protocol level through a latency proxy: a few per
block of rows (a batch of patients: one query for them, one for their additions, one per page of
rows), not one or more per patient as before (205 patients took about 440)."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from synthadmin.services.export import checkins_export_write
from tests.guest.proxied import database_through_proxy
from tests.story.conftest import generate
from tests.support.latency_proxy import Counts, LatencyProxy

pytestmark = pytest.mark.usefixtures("supabase_tables_cleanup")

#: Round trips an export may take whatever its size (connection set-up, the run, the run locks
#: taken and let go) ...
START_UP = 10
#: ... and per batch of patients (about ``CHUNK_SIZE`` rows): the batch, their additions, a page.
PER_BATCH = 3


def _export(proxy: LatencyProxy, run) -> tuple[int, Counts]:
    connection.close()
    with proxy.measuring() as counts:
        rows = checkins_export_write(run=run, fmt="csv", out=io.StringIO())
        connection.close()
    return rows, counts


def test_round_trips_grow_with_blocks_of_rows_not_with_patients():
    few = generate(patients=20, days=30, seed=1)
    many = generate(patients=205, days=30, seed=2)

    with database_through_proxy() as proxy:
        few_rows, few_counts = _export(proxy, few.run_id)
        many_rows, many_counts = _export(proxy, many.run_id)

    assert (few_rows, many_rows) == (few.checkins_created, many.checkins_created)
    print(
        f"export: {few_rows} rows {few_counts.round_trips} round trips; {many_rows} rows {many_counts.round_trips}"
    )
    batches = 2  # 50 patients, then about 5,000 rows' worth
    assert few_counts.round_trips <= START_UP + PER_BATCH
    assert many_counts.round_trips <= START_UP + batches * PER_BATCH  # was about 440
    assert many_counts.round_trips - few_counts.round_trips <= PER_BATCH
