"""What a person sees: the Generate form shows four mistakes at once, under the admin's "Please
correct the errors below." banner, each next to its field (real Chromium)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from synthadmin.models import SyntheticRun
from tests.admin.test_browser_generate import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]


def test_four_mistakes_are_shown_at_once(live_server, transactional_db, screenshot):
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/profiles/profile/generate/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/profiles/profile/generate/")
        assert page.get_attribute("#id_end_date", "placeholder") == "YYYY-MM-DD"
        assert page.get_attribute("#id_end_date", "type") == "text"  # no mm/dd/yyyy picker
        assert page.locator("#id_locale option").count() > 10  # a choice, not free text
        page.fill("#id_therapists", "-2")
        page.fill("#id_checkin_days", "-3")
        page.fill("#id_mix", "stable=50,zigzag=50")
        page.fill("#id_end_date", "2999-01-01")
        page.click("input[name=_preview]")
        page.locator("#form-errors-banner").wait_for()
        banner = page.locator("#form-errors-banner").inner_text()
        errors = {
            field: page.locator(f".form-row.field-{field} ul.errorlist").inner_text()
            for field in ("therapists", "checkin_days", "mix", "end_date")
        }
        rows_with_errors = page.locator("#generate-form .form-row.errors").count()
        screenshot(page, "admin-generate-four-errors.png")
    assert banner == "Please correct the errors below."
    assert rows_with_errors == 4
    assert "greater than or equal to 0" in errors["therapists"]
    assert "greater than or equal to 0" in errors["checkin_days"]
    assert "unknown pattern 'zigzag'" in errors["mix"]
    assert "in the future" in errors["end_date"]
    assert not SyntheticRun.objects.exists()
