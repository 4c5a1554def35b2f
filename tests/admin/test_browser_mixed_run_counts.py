"""What a person sees: a mixed run's patients per pattern in the Preview, on the run page and in
the profiles list's Run filter — the same counts everywhere (real Chromium)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from synthadmin.models import SyntheticRun
from tests.admin.test_browser_generate import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]

MIX = {"stable": 4, "cycling": 2, "depressive": 2}


def _pattern_counts(page, within: str) -> dict[str, int]:
    cells = page.locator(f"{within} td[data-pattern]")
    return {
        cells.nth(i).get_attribute("data-pattern").replace(" ", "_"): int(cells.nth(i).inner_text())
        for i in range(cells.count())
    }


def test_a_mixed_run_shows_its_patterns_everywhere(live_server, supabase_tables_cleanup, screenshot):
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/profiles/profile/generate/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/profiles/profile/generate/")
        page.fill("#id_patients", "8")
        page.fill("#id_therapists", "1")
        page.fill("#id_checkin_days", "10")
        page.fill("#id_mix", "stable=50,cycling=25,depressive=25")
        page.fill("#id_seed", "77")
        page.fill("#id_end_date", "2026-06-30")
        page.click("input[name=_preview]")
        page.locator("#generate-preview").wait_for()
        preview = _pattern_counts(page, "#preview-counts")
        screenshot(page, "admin-mixed-preview.png")
        page.click("input[name=_generate]")
        page.locator("ul.messagelist li.success").first.wait_for()

        # The Run filter names the run with its patterns.
        run_filter = page.locator("#changelist-filter").inner_text()
        screenshot(page, "admin-mixed-run-filter.png")

        page.locator("ul.messagelist li.success a").first.click()
        page.wait_for_url("**/syntheticrun/**/change/")
        page.locator("#run-patterns").wait_for()
        run_page = _pattern_counts(page, "#run-patterns")
        parameters = page.locator("#run-parameters").inner_text()
        screenshot(page, "admin-mixed-run-page.png")
    run = SyntheticRun.objects.get()
    assert preview == MIX and run_page == MIX
    assert "8 patients: stable 4 · cycling 2 · depressive 2" in run_filter
    assert "Pattern mix\tstable 4 · cycling 2 · depressive 2" in parameters
    assert "Check-in days\t10" in parameters and "{" not in parameters
    assert run.patients_created == 8
