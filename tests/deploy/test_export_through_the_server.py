"""A 300,000-row export downloads whole through the production server (issue 22): gunicorn's
threaded worker streams it for as long as it takes, WhiteNoise and the middlewares in between
change nothing, and the file has every row.

The rows are made fast: a real run of 100 patients (the service, on the local backend), then
each patient's history is lengthened in one ``INSERT ... SELECT`` over ``generate_series`` —
its first check-in's sleep and mood on earlier days, the other four payloads empty (less to
write; their ground truth is unknown: empty ``state``).
"""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.deploy.conftest import csrf_token, production_user

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 300_000
PATIENTS = 100


def _lengthen_histories(run_id) -> int:
    """Add days before each patient's first check-in until the run has ``ROWS`` check-ins."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH firsts AS (
                SELECT DISTINCT ON (c.user_id) c.*
                  FROM public.check_ins c
                  JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id = c.user_id
                 WHERE s.run_id = %(run)s AND s.state = 'complete'
                 ORDER BY c.user_id, c.checkin_date),
            have AS (SELECT count(*) AS n FROM public.check_ins c
                       JOIN synthadmin.synthadmin_syntheticuser s ON s.user_id = c.user_id
                      WHERE s.run_id = %(run)s AND s.state = 'complete'),
            numbered AS (SELECT f.*, row_number() OVER (ORDER BY f.user_id) AS k FROM firsts f)
            INSERT INTO public.check_ins (id, user_id, checkin_date, sleep_data, mood_data, symptoms_data,
                                          risk_routine_data, appetite_impulse_data, meds_context_data)
            SELECT gen_random_uuid(), n.user_id, n.checkin_date - g.day::int, n.sleep_data, n.mood_data,
                   '{}', '{}', '{}', '{}'
              FROM numbered n, have,
                   generate_series(1, (%(rows)s - have.n) / (SELECT count(*) FROM firsts)
                                      + CASE WHEN n.k <= (%(rows)s - have.n) %% (SELECT count(*) FROM firsts)
                                             THEN 1 ELSE 0 END) AS g(day)
            """,
            {"run": run_id, "rows": ROWS},
        )
        cursor.execute(
            "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser s "
            "ON s.user_id = c.user_id WHERE s.run_id = %s AND s.state = 'complete'",
            [run_id],
        )
        return cursor.fetchone()[0]


def test_a_300000_row_export_downloads_whole_through_the_server(production_server):
    report = population_generate(
        request=GenerationRequest(patients=PATIENTS, checkin_days=5, seed=3, end_date=dt.date(2026, 6, 30)),
        started_by=Starter("os:tester"),
    )
    assert _lengthen_histories(report.run_id) == ROWS
    exporter = production_user("exporter", "a-long-test-password")
    exporter.user_permissions.set(
        Permission.objects.filter(codename__in=["view_syntheticrun", "export_synthetic_data"])
    )
    server = production_server()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        form = client.get("/admin/login/")
        login = client.post(
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": csrf_token(form.text),
                "username": "exporter",
                "password": "a-long-test-password",
                "next": "/admin/",
            },
        )
        assert login.status_code == 302
        started = time.monotonic()
        lines = 0
        size = 0
        with client.stream("GET", f"/admin/synthadmin/syntheticrun/{report.run_id}/download/csv/") as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/csv")
            assert "content-length" not in answer.headers  # streamed
            tail = b""
            for block in answer.iter_bytes():
                size += len(block)
                lines += block.count(b"\n")
                tail = (tail + block)[-200:]
        elapsed = time.monotonic() - started
    assert lines == ROWS + 1  # the header, then every check-in
    assert tail.endswith(b"\n")
    print(f"\n300,000-row CSV export through gunicorn: {size / 1e6:.1f} MB in {elapsed:.1f} s")
