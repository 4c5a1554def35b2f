"""What each staff member sees in Chromium: the Profiles list without ``view_real_patients`` shows
the synthetic users only, with it the real ones too; a real patient's page is refused to the
first. Screenshots of both lists go to ``tests/artifacts/``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User

from profiles.models import Profile
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.admin.test_browser_generate import chromium_page
from tests.realdata import insert_real_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
VIEW = ["view_profile", "view_checkin", "view_syntheticrun"]


def _staff(name: str, *codenames: str) -> None:
    user = User.objects.create_user(name, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=[*VIEW, *codenames]))


def _sign_in(page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/profiles/profile/")
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/profiles/profile/")


def test_each_staff_member_sees_the_list_their_permission_allows(
    live_server, supabase_tables_cleanup, screenshot
):
    population_generate(
        request=GenerationRequest(
            patients=3, therapists=1, checkin_days=5, seed=8, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:test"),
    )
    real_patient = insert_real_user(email="real.carol@example.org", checkins=4)
    insert_real_user(role="therapist", email="dr.real@example.org")
    synthetic = set(Profile.objects.synthetic().values_list("email", flat=True))
    real = {"real.carol@example.org", "dr.real@example.org"}
    _staff("viewer")
    _staff("clinician", "view_real_patients")

    shown = {}
    with chromium_page() as page:
        page.set_viewport_size({"width": 1366, "height": 768})
        for name in ("viewer", "clinician"):
            page.context.clear_cookies()
            _sign_in(page, live_server.url, name)
            emails = page.locator("#result_list th.field-email_breakable").all_inner_texts()
            shown[name] = {email.replace("\n", "") for email in emails}
            screenshot(page, f"real-patients-private-{name}.png")
        page.context.clear_cookies()
        _sign_in(page, live_server.url, "viewer")
        refused = page.goto(f"{live_server.url}/admin/profiles/profile/{real_patient}/change/")
        assert refused is not None and refused.status == 403
        assert "real.carol" not in page.content()
        screenshot(page, "real-patients-private-viewer-refused.png")

    assert shown["viewer"] == synthetic
    assert shown["clinician"] == synthetic | real
