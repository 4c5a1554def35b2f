"""What a person sees finding people in Chromium: a search by a name with accents and by its
unaccented spelling finds the same patient; the therapist filter's box and a therapist's page
with their patients. Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import pytest
from django.db import connection

from synthadmin.text import name_folded
from tests.admin.test_browser_generate import chromium_page
from tests.story.conftest import generate, staff_with

pytestmark = [pytest.mark.browser]


def _people(run_id) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id::text, u.raw_user_meta_data ->> 'name', p.role FROM auth.users u "
            "JOIN public.profiles p ON p.id = u.id WHERE u.id IN "
            "(SELECT user_id FROM synthadmin_syntheticuser WHERE run_id = %s) ORDER BY 1",
            [run_id],
        )
        return cursor.fetchall()


def _caseload(therapist: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT patient_id::text FROM public.therapist_patients WHERE therapist_id = %s", [therapist]
        )
        return {p for (p,) in cursor.fetchall()}


def test_staff_find_a_patient_by_name_and_a_therapists_patients(
    live_server, supabase_tables_cleanup, screenshot
):
    report = generate(patients=30, therapists=2, days=3, pattern="stable", seed=23)
    people = _people(report.run_id)
    patient, name = next((u, n) for u, n, role in people if role == "patient" and name_folded(n) != n.lower())
    therapist = next(u for u, _, role in people if role == "therapist")
    patients = _caseload(therapist)
    staff = staff_with("view_profile")
    staff.set_password("a-long-test-password")
    staff.save()
    found: dict[str, list[str]] = {}

    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        page.goto(f"{live_server.url}/admin/profiles/profile/")
        for label, query in (("accented", name), ("unaccented", name_folded(name))):
            page.fill("#searchbar", query)
            page.press("#searchbar", "Enter")
            page.wait_for_load_state()
            found[label] = page.locator("#result_list tbody th a").evaluate_all(
                "els => els.map(e => new URL(e.href).pathname.split('/')[4])"
            )
            screenshot(page, f"find-by-name-{label}.png")
        page.goto(f"{live_server.url}/admin/profiles/profile/")
        page.fill("#therapist-search", therapist)
        page.press("#therapist-search", "Enter")
        page.wait_for_load_state()
        filtered = page.locator("#result_list tbody th a").evaluate_all(
            "els => els.map(e => new URL(e.href).pathname.split('/')[4])"
        )
        screenshot(page, "therapist-filter.png")
        page.goto(f"{live_server.url}/admin/profiles/profile/{therapist}/change/")
        caseload = page.locator("#caseload li a").evaluate_all(
            "els => els.map(e => new URL(e.href).pathname.split('/')[4])"
        )
        screenshot(page, "therapist-patients.png")
        page.locator("#caseload li a").first.click()
        page.wait_for_load_state()
        back = page.locator("#story-therapist a").get_attribute("href")

    assert patient in found["accented"] and found["accented"] == found["unaccented"]
    assert set(caseload) == patients and set(filtered) == patients
    assert back.rstrip("/").split("/")[-2] == therapist
