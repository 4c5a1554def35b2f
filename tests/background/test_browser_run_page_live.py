"""What a person sees: the run page's progress moves without a reload and reaches "Succeeded"
(Debian's Chromium through Playwright, a real worker subprocess doing the run)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from synthadmin.models import SyntheticRun
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.admin.test_browser_generate import ARTIFACTS, chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.screenshots, pytest.mark.django_db(transaction=True)]

PATIENTS = 600


def test_the_run_page_follows_a_background_run_to_the_end(live_server, workers, screenshot):
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    run = run_enqueue(
        request=GenerationRequest(
            patients=PATIENTS, therapists=6, checkin_days=30, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:test"),
    )
    seen: list[int] = []
    env = workers.env()
    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/synthadmin/syntheticrun/{run.pk}/change/")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        panel = page.locator("#run-progress")
        panel.wait_for()
        assert page.locator('[data-field="status_display"]').inner_text() == "Queued"
        assert "no worker has picked it up" in page.locator('[data-field="message"]').inner_text()
        page.evaluate("window.__notReloaded = true")
        workers.start(env=env)
        done = page.locator('[data-field="users_done"]')
        page.wait_for_function(
            "() => { const n = +document.querySelector('[data-field=\"users_done\"]').textContent;"
            f" return n > 0 && n < {PATIENTS + 6}; }}",
            timeout=120_000,
        )
        seen.append(int(done.inner_text()))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "run-page-running.png"), full_page=True)
        page.wait_for_function(
            "() => document.querySelector('[data-field=\"status_display\"]').textContent === 'Succeeded'",
            timeout=300_000,
            polling=200,
        )
        seen.append(int(done.inner_text()))
        assert page.evaluate("window.__notReloaded") is True, "the page was reloaded"
        assert page.locator("#cancel-run").count() == 0  # gone once the run has ended
        # The record below the panel is the final one too (swapped in without a navigation).
        page.wait_for_function(
            "() => (document.querySelector('.field-status_detail .readonly') || {}).textContent === 'Succeeded'",
            timeout=10_000,
        )
        assert page.locator(".field-patients_created_record .readonly").inner_text().strip() == str(PATIENTS)
        assert "(succeeded)" in page.locator(".breadcrumbs").inner_text()
        assert "of about" not in panel.inner_text()  # ended: the check-ins made, not an estimate
        assert page.evaluate("window.__notReloaded") is True, "the page was reloaded"
        screenshot(page, "run-page-live.png", docs=True)
    assert 0 < seen[0] < seen[1] == PATIENTS + 6
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.SUCCEEDED
