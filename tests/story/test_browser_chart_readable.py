"""The patient page's chart in Chromium at 1366 and 390 px, light and dark: no sideways scroll,
the drawing meant for the width, readable labels, the theme's colours, a day's values on hover.
Screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

import pytest

from synthadmin.models import SyntheticUser
from synthadmin.mood_chart import BAND_COLOURS, BAND_COLOURS_DARK
from tests.admin.test_browser_generate import chromium_page
from tests.story.conftest import generate, staff_with

pytestmark = [pytest.mark.browser, pytest.mark.screenshots]

WIDTHS = (1366, 390)
THEMES = ("light", "dark")


def _rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


def test_chart_reads_at_both_widths_in_both_themes(live_server, supabase_tables_cleanup, screenshot):
    report = generate(patients=1, therapists=1, days=120, pattern="cycling", seed=21)
    patient = SyntheticUser.objects.get(run_id=report.run_id, role="patient")
    staff = staff_with("view_profile", "view_checkin", "view_syntheticrun")
    staff.set_password("a-long-test-password")
    staff.save()
    seen: dict[tuple[int, str], dict] = {}

    with chromium_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "a-long-test-password")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for width in WIDTHS:
            for theme in THEMES:
                page.set_viewport_size({"width": width, "height": 900})
                page.emulate_media(color_scheme=theme)
                page.goto(f"{live_server.url}/admin/profiles/profile/{patient.user_id}/change/")
                visible = "svg.mood-chart" if width > 700 else "svg.mood-chart-narrow"
                page.locator(visible).wait_for()
                seen[width, theme] = page.evaluate(
                    """(visible) => {
                        const svg = document.querySelector(visible);
                        const box = svg.getBoundingClientRect();
                        const labels = [...svg.querySelectorAll('.x-axis text')];
                        const band = svg.querySelector('rect.band');
                        return {
                            scroll: document.documentElement.scrollWidth,
                            inner: window.innerWidth,
                            width: box.width,
                            right: box.right,
                            ticks: labels.length,
                            fontPx: labels[0].getBoundingClientRect().height,
                            overlap: labels.some((t, i) => i && t.getBoundingClientRect().left
                                < labels[i - 1].getBoundingClientRect().right),
                            band: [band.dataset.state, getComputedStyle(band).fill],
                            text: getComputedStyle(labels[0]).fill,
                        };
                    }""",
                    visible,
                )
                if width > 700:
                    target = page.locator("svg.mood-chart rect.day").nth(10)
                    seen[width, theme]["title"] = target.evaluate("e => e.querySelector('title').textContent")
                    target.focus()
                    seen[width, theme]["focused"] = page.evaluate(
                        "document.activeElement.getAttribute('class')"
                    )
                screenshot(page, f"chart-{width}-{theme}.png")

    for (width, theme), view in seen.items():
        assert view["scroll"] <= view["inner"], (width, theme, view)  # no sideways scroll
        assert view["right"] <= view["inner"] and view["width"] > 0.8 * min(width, 1366) - 120
        assert view["ticks"] >= 3 and not view["overlap"], (width, theme, view)
        assert view["fontPx"] >= 9, (width, theme, view["fontPx"])  # readable at 390 px too
        state, fill = view["band"]
        assert fill == _rgb((BAND_COLOURS if theme == "light" else BAND_COLOURS_DARK)[state]), (theme, fill)
        text = [int(v) for v in view["text"][4:-1].split(",")[:3]]
        assert (sum(text) < 200) if theme == "light" else (sum(text) > 500), (theme, view["text"])
    for theme in THEMES:
        assert "Energy" in seen[1366, theme]["title"] and seen[1366, theme]["focused"] == "day"
