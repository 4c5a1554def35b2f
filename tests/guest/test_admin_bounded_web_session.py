"""Every query of a web request runs under ``SYNTHADMIN_WEB_STATEMENT_TIMEOUT`` (and without
parallel workers); a page that hits it gets the admin's message, never a 500; the session is
given back as it was, so management commands and workers keep their own settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.contrib.auth.models import Permission, User
from django.db import DataError, OperationalError, connection, connections, transaction
from django.template.response import SimpleTemplateResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from synthadmin import middleware
from tests.dbutil import admin_conninfo
from tests.realdata import insert_real_user

CHECKINS = "/admin/checkins/checkin/"


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


@pytest.fixture
def operator(transactional_db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("operator", "op@example.com", "pw-for-tests"))
    return client


@pytest.fixture
def checkins_locked(supabase_tables_cleanup) -> Iterator[None]:
    """Another session holds ``public.check_ins`` exclusively: every statement of a page that
    reads it waits — until the statement timeout cancels it."""
    insert_real_user(checkins=3)
    dbname = connection.settings_dict["NAME"]
    with psycopg.connect(admin_conninfo(dbname)) as holder:
        holder.execute("LOCK TABLE public.check_ins IN ACCESS EXCLUSIVE MODE")
        yield
        holder.rollback()


@pytest.mark.exclusive  # measures how long the page took
def test_a_page_over_the_limit_shows_the_admin_message_not_a_500(operator, checkins_locked, settings, caplog):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.3
    before = _show("statement_timeout")
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="synthadmin.web"):
        response = operator.get(CHECKINS, {"test_patient": "no"})
    took = time.monotonic() - began

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="query-cancelled"' in page and "This page took longer than 0.3 s" in page
    assert "nothing was changed" in page and "Narrow the filter" in page
    assert "synthadmin — synthetic test patients" in page  # the admin's frame
    assert f'href="{CHECKINS}"' in page  # "This page without its filters"
    assert 0.3 <= took < 5
    assert [r.getMessage() for r in caplog.records] == [
        f"GET {CHECKINS}: a query was stopped after 0.3 s (SYNTHADMIN_WEB_STATEMENT_TIMEOUT)"
    ]
    assert _show("statement_timeout") == before  # the test's own session, as it was


def test_the_same_page_within_the_limit_is_the_list(operator, supabase_tables_cleanup, settings):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 2
    insert_real_user(checkins=3)
    response = operator.get(CHECKINS, {"test_patient": "no"})
    assert response.status_code == 200 and response.context["cl"].result_count == 3


@pytest.mark.urls("tests.guest.urls")
def test_every_query_of_a_request_runs_under_the_limit_and_the_session_is_given_back(
    operator, settings, django_assert_num_queries
):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.25
    with connection.cursor() as cursor:  # what a management command might have set for itself
        cursor.execute("SET statement_timeout = '5s'; SET max_parallel_workers_per_gather = 3")
    # The page's own statement (the settings go just before it, on the driver's cursor, so the
    # query log counts the two as one), then the give-back.
    with django_assert_num_queries(2):
        seen = operator.get("/session-settings/").json()
    assert seen == {"statement_timeout": "250ms", "max_parallel_workers_per_gather": "0"}
    assert (_show("statement_timeout"), _show("max_parallel_workers_per_gather")) == ("5s", "3")


@pytest.mark.urls("tests.guest.urls")
def test_a_cancelled_statement_outside_the_admin_gets_the_message_too(operator, settings):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.2
    response = operator.get("/sleep/")
    assert response.status_code == 200
    assert "This page took longer than 0.2 s" in response.content.decode()


def test_a_web_process_bounds_every_connection_it_opens(transactional_db, settings, monkeypatch):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 7
    monkeypatch.setattr(middleware, "_web_process", False)
    seen: dict[str, str] = {}

    def new_connection() -> None:  # a thread: a connection of its own, opened now
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), current_setting('max_parallel_workers_per_gather')"
            )
            seen["statement_timeout"], seen["workers"] = cursor.fetchone()
        connections["default"].close()

    middleware.web_process_mark()  # monkeypatch puts the flag back afterwards
    thread = threading.Thread(target=new_connection)
    thread.start()
    thread.join()
    assert middleware._web_process
    assert seen == {"statement_timeout": "7s", "workers": "0"}


def test_a_web_process_request_sends_no_statement_for_the_limit(operator, monkeypatch):
    page = "/admin/synthadmin/scenario/"
    operator.get(page)
    with transaction.atomic():  # count the page's statements alone, then with the middleware's
        with CaptureQueriesContext(connection) as per_request:
            operator.get(page)
        monkeypatch.setattr(middleware, "_web_process", True)
        with CaptureQueriesContext(connection) as web_process:
            operator.get(page)
    assert len(web_process) == len(per_request) - 1  # no give-back (nor the set, logged with the first)


def test_only_a_cancelled_statement_becomes_the_message(transactional_db, settings):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.1
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_checkin"))
    request = RequestFactory().get(CHECKINS)
    request.user = User.objects.get(pk=staff.pk)
    handler = middleware.WebSessionMiddleware(lambda r: None)  # type: ignore[arg-type,return-value]

    with pytest.raises(DataError) as other, connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    assert handler.process_exception(request, other.value) is None  # a 500, as before

    with transaction.atomic():  # the request's transaction is left aborted: the frame's own
        with pytest.raises(OperationalError) as cancelled, connection.cursor() as cursor:  # queries fail
            cursor.execute("SET LOCAL statement_timeout = '50ms'; SELECT pg_sleep(1)")
        response = handler.process_exception(request, cancelled.value)
        assert isinstance(response, SimpleTemplateResponse)
        response.render()
        transaction.set_rollback(True)
    assert response.status_code == 200 and "This page took longer than 0.1 s" in response.content.decode()


@pytest.mark.urls("tests.guest.urls")
def test_a_request_that_reads_nothing_opens_no_connection(client):
    """No database access is allowed in this test: the middleware must not open a connection."""
    assert client.get("/no-database/").json() == {"database": False}


@pytest.mark.urls("tests.guest.urls")
def test_a_request_that_reads_nothing_sends_nothing_on_an_open_connection(client, db):
    with connection.cursor() as cursor:  # open, as a previous request or test leaves it
        cursor.execute("SELECT 1")
    assert connection.connection is not None
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/no-database/").json() == {"database": False}
    assert len(queries) == 0


@pytest.mark.urls("tests.guest.urls")
def test_a_connection_the_request_opens_gets_the_limit_and_then_the_defaults(transactional_db, settings):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.25
    connection.close()  # the request opens it
    assert Client().get("/session-settings/").json()["statement_timeout"] == "250ms"
    assert (_show("statement_timeout"), _show("max_parallel_workers_per_gather")) == ("0", "2")
