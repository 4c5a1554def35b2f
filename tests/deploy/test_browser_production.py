"""What a person sees on the production server (gunicorn, DEBUG off, WhiteNoise), not runserver:
Chromium logs in and generates test patients (issue 22), and the home page says what there is."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from tests.admin.test_browser_generate import _generate_in_the_browser, chromium_page
from tests.deploy.conftest import production_user
from tests.invariants import assert_invariants, synthetic_counts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_log_in_and_generate_through_the_production_server(
    production_server, real_population, screenshot
):
    operator = production_user("operator", "a-long-test-password")
    operator.user_permissions.set(
        Permission.objects.filter(
            # The steps look at the real users too (the lists before and after): the permission
            # that shows them.
            codename__in=[
                "view_profile",
                "view_syntheticrun",
                "generate_synthetic_data",
                "view_real_patients",
            ]
        )
    )
    server = production_server()
    with chromium_page() as page:
        failed_assets: list[str] = []
        page.on("response", lambda r: failed_assets.append(r.url) if r.status >= 400 else None)
        # The same steps as on runserver; its screenshots under names of their own, never the docs'.
        _generate_in_the_browser(
            page, server.url, lambda page, name, docs=False: screenshot(page, f"production-{name}")
        )
        # The home page: the synthetic data just made, no run in progress, no worker.
        page.goto(f"{server.url}/admin/")
        assert page.locator("#overview-patients").inner_text() == "3"
        assert page.locator("#overview-therapists").inner_text() == "1"
        assert page.locator("#overview-workers").inner_text() == "0"
        assert "No worker is running" in page.locator("#overview-workers-help").inner_text()
        # Styled: the admin's stylesheet applied (its header colour), not a bare page.
        header = page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header not in ("rgba(0, 0, 0, 0)", "transparent")
        screenshot(page, "production-admin-home.png")
    assert failed_assets == []
    counts = synthetic_counts()
    assert (counts["patients"], counts["therapists"]) == (3, 1)
    assert_invariants(real_population)
