"""What a person sees: the patient page of a cycling and a stable patient in a real Chromium.

Its screenshots go to ``tests/artifacts/``; ``--update-docs`` copies them into ``docs/``.
"""

from __future__ import annotations

import pytest
from django.db import connection

from synthadmin.models import SyntheticUser
from tests.admin.test_browser_generate import chromium_page
from tests.story.conftest import generate, staff_with

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]


def _checkin_days(user_id) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT checkin_date FROM public.check_ins WHERE user_id = %s ORDER BY 1", [user_id])
        return [d.isoformat() for (d,) in cursor.fetchall()]


def test_patient_pages_draw_the_history_and_its_truth(live_server, supabase_tables_cleanup, screenshot):
    cycling = generate(patients=1, therapists=1, days=365, pattern="cycling", seed=21)
    stable = generate(patients=1, days=365, pattern="stable", seed=4)
    patients = {
        name: SyntheticUser.objects.get(run_id=report.run_id, role="patient")
        for name, report in (("cycling", cycling), ("stable", stable))
    }
    expected = {name: _checkin_days(entry.user_id) for name, entry in patients.items()}
    truth_runs = {name: len(entry.ground_truth["states"]) for name, entry in patients.items()}
    staff = staff_with(
        "view_profile", "view_checkin", "view_syntheticrun", "view_syntheticuser", "export_synthetic_data"
    )
    staff.username = "clinic.qa"
    staff.set_password("a-long-test-password")
    staff.save()
    seen: dict[str, dict] = {}

    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for name, entry in patients.items():
            page.goto(f"{live_server.url}/admin/profiles/profile/{entry.user_id}/change/")
            chart = page.locator("svg.mood-chart")
            chart.wait_for()
            box = chart.bounding_box()
            seen[name] = {
                "box": box,
                "marks": page.locator("svg.mood-chart rect.checkin-mark").evaluate_all(
                    "els => els.map(e => e.getAttribute('data-day'))"
                ),
                "visible_marks": page.locator("svg.mood-chart rect.checkin-mark").evaluate_all(
                    "els => els.filter(e => e.getBBox().width > 0 && e.getBBox().height > 0).length"
                ),
                "points": page.locator("svg.mood-chart g.series").evaluate_all(
                    "els => els.map(e => [e.getAttribute('class'), Number(e.getAttribute('data-points'))])"
                ),
                "paths": page.locator("svg.mood-chart g.series path").evaluate_all(
                    "els => els.map(e => e.getTotalLength())"
                ),
                "bands": page.locator("svg.mood-chart rect.band").evaluate_all(
                    "els => els.map(e => e.getAttribute('data-state'))"
                ),
                "pattern": page.locator("#story-pattern").inner_text(),
                "latest": page.locator("#latest-checkins tbody tr").count(),
            }
            screenshot(page, f"patient-{name}.png", docs=True)
        page.goto(f"{live_server.url}/admin/synthadmin/syntheticrun/{cycling.run_id}/change/")
        downloads = page.locator("a.download-run").all_inner_texts()
        screenshot(page, "run-page.png", docs=True)

    assert downloads == ["DOWNLOAD CSV", "DOWNLOAD JSONL"] or downloads == ["Download CSV", "Download JSONL"]
    for name, view in seen.items():
        assert view["box"]["width"] > 800 and view["box"]["height"] > 250
        assert view["marks"] == expected[name]  # a mark for every check-in day, in order
        assert view["visible_marks"] == len(expected[name])
        assert all(points == len(expected[name]) for _, points in view["points"])
        assert all(length > 100 for length in view["paths"])  # the lines are drawn
        assert len(view["bands"]) == truth_runs[name] > 0  # ground-truth bands
        assert view["pattern"] == name and view["latest"] == 14
