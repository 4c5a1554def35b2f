"""On a laptop screen (1366 px), the Profiles list shows every column — the long generated
e-mails (patient and therapist) wrap instead of pushing Check-ins, Last check-in and Created
off to the right."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.admin.test_browser_generate import ARTIFACTS, chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_every_column_fits_at_1366_px(live_server, supabase_tables_cleanup):
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    population_generate(
        request=GenerationRequest(
            patients=4, therapists=2, checkin_days=5, seed=3, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:test"),
    )
    with chromium_page() as page:
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{live_server.url}/admin/login/?next=/admin/profiles/profile/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/profiles/profile/")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "profiles-1366.png"), full_page=True)
        width = page.evaluate("document.documentElement.clientWidth")
        for column in ("therapist_email", "checkin_count", "last_checkin", "created"):
            box = page.locator(f"#result_list th.column-{column}").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, (column, box, width)
