"""The export's round trips, counted at the protocol level through a latency proxy: a few per
block of rows (a batch of patients: one query for them, one for their additions, one per page of
rows), not one or more per patient as before (205 patients took about 440)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest
from django.db import connection

from synthadmin.services.export import checkins_export_write
from tests.dbutil import server_params
from tests.story.conftest import generate
from tests.support.latency_proxy import Counts, LatencyProxy

pytestmark = pytest.mark.usefixtures("supabase_tables_cleanup")

#: Round trips an export may take whatever its size (connection set-up, the run, the run locks
#: taken and let go) ...
START_UP = 10
#: ... and per batch of patients (about ``CHUNK_SIZE`` rows): the batch, their additions, a page.
PER_BATCH = 3


@contextlib.contextmanager
def _through_proxy() -> Iterator[LatencyProxy]:
    """Django's default connection through a latency proxy (2 ms RTT) for the block, after what
    a process does once on its first connection; each export sets its own connection up."""
    params = server_params()
    settings_dict = connection.settings_dict
    saved = {key: settings_dict.get(key) for key in ("HOST", "PORT", "EMBEDDED_DATA_DIR")}
    connection.close()
    with LatencyProxy(params["host"], int(params["port"]), rtt_ms=2.0) as proxy:
        settings_dict.pop("EMBEDDED_DATA_DIR", None)
        settings_dict.update(HOST="127.0.0.1", PORT=str(proxy.port))
        try:
            connection.ensure_connection()  # what a process does once (the pooler probe...)
            connection.close()
            yield proxy
        finally:
            connection.close()
            for key, value in saved.items():
                if value is None:
                    settings_dict.pop(key, None)
                else:
                    settings_dict[key] = value


def _export(proxy: LatencyProxy, run) -> tuple[int, Counts]:
    connection.close()
    with proxy.measuring() as counts:
        rows = checkins_export_write(run=run, fmt="csv", out=io.StringIO())
        connection.close()
    return rows, counts


def test_round_trips_grow_with_blocks_of_rows_not_with_patients():
    few = generate(patients=20, days=30, seed=1)
    many = generate(patients=205, days=30, seed=2)

    with _through_proxy() as proxy:
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
