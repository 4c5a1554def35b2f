"""In Chromium: a list whose query outlasts ``SYNTHADMIN_WEB_STATEMENT_TIMEOUT`` shows the admin's
message in the admin's frame; once the database answers in time, the same link shows the list."""

from __future__ import annotations

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection

from tests.admin.test_browser_generate import chromium_page
from tests.dbutil import admin_conninfo
from tests.realdata import insert_real_user

pytestmark = [pytest.mark.browser, pytest.mark.screenshots, pytest.mark.django_db(transaction=True)]


def test_a_slow_list_shows_the_message_in_the_admin(
    live_server, supabase_tables_cleanup, settings, screenshot
):
    settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT = 0.5
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    insert_real_user(checkins=4)
    holder = psycopg.connect(admin_conninfo(connection.settings_dict["NAME"]))
    try:
        with chromium_page() as page:
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", "a-long-test-password")
            page.click("input[type=submit]")
            page.wait_for_url("**/admin/")
            holder.execute("LOCK TABLE public.check_ins IN ACCESS EXCLUSIVE MODE")  # held: every read waits
            page.goto(f"{live_server.url}/admin/checkins/checkin/?test_patient=no")
            message = page.locator("#query-cancelled")
            assert "This page took longer than 0.5 s" in message.inner_text()
            assert page.locator("#site-name").inner_text() == "synthadmin — synthetic test patients"
            assert page.locator("ul.messagelist li.error").count() == 1
            screenshot(page, "admin-query-cancelled.png", docs=True)
            holder.rollback()  # the database answers again
            page.reload()
            assert page.locator("#query-cancelled").count() == 0
            assert page.locator("#result_list tbody tr").count() == 4
    finally:
        holder.close()
