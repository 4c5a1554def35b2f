"""What a person sees: a real Chromium (Debian's, driven by Playwright) generates test patients."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from tests.invariants import assert_invariants, synthetic_counts

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]


def _chromium() -> str | None:
    for candidate in (os.environ.get("SYNTHADMIN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@contextlib.contextmanager
def chromium_page():
    """A page in headless Chromium. The test's own database work happens outside this block:
    Playwright's sync API runs an event loop in this thread, and Django would hand ORM calls
    made inside it a separate connection."""
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "no Chromium found (install Debian's chromium, or set SYNTHADMIN_CHROMIUM); .ci/run installs it"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 900})
        finally:
            browser.close()


def test_staff_generates_test_patients_in_the_browser(live_server, real_population, screenshot):
    operator = User.objects.create_user("operator", password="a-long-test-password", is_staff=True)
    operator.user_permissions.set(
        Permission.objects.filter(
            codename__in=[
                "view_profile",
                "view_syntheticrun",
                "generate_synthetic_data",
                "view_real_patients",
            ]
        )
    )
    with chromium_page() as page:
        _generate_in_the_browser(page, live_server.url, screenshot)

    counts = synthetic_counts()
    assert (counts["patients"], counts["therapists"]) == (3, 1)
    assert 0 < counts["checkins"] <= 3 * 14
    assert_invariants(real_population)


def _generate_in_the_browser(page, base_url: str, screenshot) -> None:
    live_server_url = base_url

    page.goto(f"{live_server_url}/admin/login/?next=/admin/profiles/profile/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/profiles/profile/")
    assert page.locator("#result_list tbody tr").count() == 5  # the real users only

    page.click("text=Generate synthetic data")
    page.wait_for_url("**/admin/profiles/profile/generate/")
    page.fill("#id_patients", "3")
    page.fill("#id_therapists", "1")
    page.fill("#id_checkin_days", "14")
    page.fill("#id_seed", "2026")
    page.check("#id_create_logins")
    page.click("input[name=_preview]")

    # The preview: what would be made, nothing written yet; then Generate with the same values.
    page.locator("#generate-preview").wait_for()
    assert page.locator("#preview-patients").inner_text() == "3"
    assert page.locator("#preview-therapists").inner_text() == "1"
    assert page.locator("#preview-sample-days tbody tr").count() == 7
    assert page.locator("#preview-shares tbody tr").count() == 6
    screenshot(page, "admin-generate-preview.png", docs=True)
    page.click("input[name=_generate]")

    success = page.locator("ul.messagelist li.success")
    success.first.wait_for()
    assert "Created 3 patients, 1 therapist and" in success.first.inner_text()
    assert page.locator("#download-logins-link").inner_text() == "Download logins (once)"

    # Back to everyone, then the filter a person would click.
    page.goto(f"{live_server_url}/admin/profiles/profile/")
    assert page.locator("#result_list tbody tr").count() == 9
    page.locator("#changelist-filter").get_by_role("link", name="Yes").first.click()
    page.wait_for_url("**test_patient=yes**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4
    emails = rows.locator("th.field-email_breakable").all_inner_texts()
    assert len(emails) == 4 and all(email.endswith("@example.com") and "\n" not in email for email in emails)
    assert page.locator("#result_list tbody tr td.field-role").all_inner_texts().count("Therapist") == 1

    screenshot(page, "admin-test-patients.png", docs=True)
