"""What a person sees: "Run selected scenarios" shows each scenario's Preview and waits for
"Yes, run"; a second Run says the scenario already has a live population and offers Reset."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from synthadmin.models import Scenario, SyntheticRun
from tests.admin.test_browser_generate import chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]


def _run_selected(page, base: str) -> None:
    page.goto(f"{base}/admin/synthadmin/scenario/")
    page.locator("#result_list tbody tr", has_text="clinic").locator("input.action-select").check()
    page.select_option("select[name=action]", "run_scenarios")
    page.click("button[name=index]")
    page.locator("#scenario-run-confirmation").wait_for()


def test_run_confirms_with_a_preview_then_offers_reset(live_server, supabase_tables_cleanup, screenshot):
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    Scenario.objects.create(
        name="clinic", therapists=1, patients=8, mix={"stable": 50, "cycling": 25, "depressive": 25},
        checkin_days=5, seed=9, end_date=dt.date(2026, 6, 1),
    )  # fmt: skip
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/synthadmin/scenario/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/synthadmin/scenario/")
        _run_selected(page, live_server.url)
        first = page.locator("#scenario-run-confirmation").inner_text()
        cells = page.locator("#plan-clinic td[data-pattern]")
        patterns = {cells.nth(i).get_attribute("data-pattern"): cells.nth(i).inner_text() for i in range(3)}
        screenshot(page, "admin-scenario-run-confirmation.png")
        nothing_yet = page.locator("#offer-reset").count() == 0
        page.click("#confirm-run")
        page.locator("ul.messagelist li").first.wait_for()

        _run_selected(page, live_server.url)
        second = page.locator("#scenario-run-confirmation").inner_text()
        screenshot(page, "admin-scenario-run-live-population.png")
        page.click("#offer-reset")
        page.wait_for_selector("text=Reset scenarios?")
        reset_page = page.locator("#content").inner_text()
    assert patterns == {"stable": "4", "cycling": "2", "depressive": "2"} and nothing_yet
    assert "It runs now, while this page waits." in first and "already has a live population" not in first
    assert SyntheticRun.objects.filter(scenario__name="clinic").count() == 1
    assert "clinic already has a live population" in second and "Reset instead" in second
    assert "1 earlier run to purge" in reset_page
