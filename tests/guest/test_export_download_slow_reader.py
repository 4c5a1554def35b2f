"""An admin download through a real WSGI server (gunicorn), read by a client that stops for longer
than the database's ``idle_in_transaction_session_timeout``: every row arrives, exactly; and a
download whose database session is ended part way fails visibly (an incomplete transfer), never
a short file that looks whole."""

from __future__ import annotations

import http.client
import time

import psycopg
import pytest
from django.contrib.admin.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from tests.guest.export_support import (
    IDLE_TIMEOUT,
    PAUSE_SECONDS,
    download_open,
    gunicorn_server,
    idle_in_transaction_timeout,
    population_generate_large,
    sessions_of_app_terminate,
    staff_cookie,
    waiting_states,
)

pytestmark = pytest.mark.usefixtures("supabase_tables_cleanup")


def _url(run_id: str) -> str:
    return reverse("admin:synthadmin_syntheticrun_download", args=[run_id, "csv"])


def test_the_timeout_applies_to_synthadmin_sessions_and_ends_an_idle_transaction():
    with idle_in_transaction_timeout():
        with connection.cursor() as cursor:  # a new synthadmin session (the backend of the app)
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            assert cursor.fetchone()[0] == IDLE_TIMEOUT
        # What today's export did while a reader caught up: a transaction left idle is ended.
        with pytest.raises(DatabaseError) as ended, transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                time.sleep(PAUSE_SECONDS)
                cursor.execute("SELECT 1")
        assert isinstance(ended.value.__cause__, psycopg.Error)
        assert ended.value.__cause__.sqlstate == "25P03"  # idle_in_transaction_session_timeout
        connection.close()


def test_a_download_read_slowly_has_every_row_exactly():
    population = population_generate_large()
    cookie = staff_cookie()
    with idle_in_transaction_timeout(), gunicorn_server() as port:
        response = download_open(port, _url(population.run_id), cookie)
        assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
        body = response.read(65536)
        waiting = waiting_states()  # the server waits on us
        time.sleep(PAUSE_SECONDS)  # longer than the timeout
        body += response.read()

    assert body == population.csv
    assert waiting == ["idle"]  # no transaction was left open while the reader stopped
    assert body.count(b"\n") == population.rows + 1
    assert LogEntry.objects.filter(change_message__startswith="Downloaded its check-ins as csv").exists()


def test_a_download_whose_session_ends_part_way_is_visibly_incomplete():
    population = population_generate_large()
    cookie = staff_cookie()
    with gunicorn_server() as port:
        response = download_open(port, _url(population.run_id), cookie)
        assert response.status == 200
        body = response.read(65536)
        waiting_states()
        assert sessions_of_app_terminate() >= 1

        with pytest.raises(http.client.IncompleteRead) as raised:
            response.read()

    received = body + raised.value.partial
    assert 0 < len(received) < len(population.csv)
    assert population.csv.startswith(received)
