"""The chart module alone (pure): points, gaps, bands, weekly aggregation, speed, escaping."""

from __future__ import annotations

import datetime as dt
import re
import time
import xml.etree.ElementTree as ET

import pytest

from synthadmin.mood_chart import DAILY_LIMIT, DayValues, mood_chart_render

SVG = "{http://www.w3.org/2000/svg}"
START = dt.date(2026, 1, 1)


def _days(offsets: list[int]) -> list[DayValues]:
    return [
        DayValues(START + dt.timedelta(days=o), energy=5, depressed=2, elevation=3, sleep=7.5)
        for o in offsets
    ]


def _series(root: ET.Element, name: str) -> ET.Element:
    return next(g for g in root.iter(f"{SVG}g") if g.get("class") == f"series series-{name}")


def test_daily_chart_draws_a_point_per_checkin_and_breaks_lines_at_missed_days():
    offsets = [0, 1, 2, 5, 6, 9]  # missed 3-4 and 7-8; day 9 stands alone
    chart = mood_chart_render(checkins=_days(offsets))
    assert chart is not None
    root = ET.fromstring(chart.svg)  # noqa: S314 - our own SVG, well-formed
    assert chart.mode == "daily" and chart.points == 6
    marks = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "checkin-mark"]
    assert [m.get("data-day") for m in marks] == [(START + dt.timedelta(days=o)).isoformat() for o in offsets]
    for name in ("energy", "depressed", "elevation", "sleep"):
        group = _series(root, name)
        assert group.get("data-points") == "6" and group.get("data-segments") == "3"
        path = next(group.iter(f"{SVG}path")).attrib["d"]  # the series' path, in its defs
        assert path.count("M") == 2  # two runs of several days; the lone day is a dot
        assert len(list(group.iter(f"{SVG}circle"))) == 1


def test_missing_values_are_gaps_not_zeros():
    days = _days([0, 1, 2])
    days[1] = DayValues(days[1].day, energy=None, depressed=2, elevation=3, sleep=None)
    chart = mood_chart_render(checkins=days)
    assert chart is not None
    root = ET.fromstring(chart.svg)  # noqa: S314 - our own SVG
    assert _series(root, "energy").get("data-points") == "2"
    assert _series(root, "energy").get("data-segments") == "2"
    assert _series(root, "depressed").get("data-points") == "3"


def test_ground_truth_bands_cover_their_days_in_their_colour():
    bands = [
        ("euthymic", START, START + dt.timedelta(days=9)),
        ("manic", START + dt.timedelta(days=10), START + dt.timedelta(days=19)),
    ]
    chart = mood_chart_render(checkins=_days([0, 15]), bands=bands)
    assert chart is not None
    root = ET.fromstring(chart.svg)  # noqa: S314 - our own SVG
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "band"]
    assert [r.get("data-state") for r in rects] == ["euthymic", "manic"]
    assert float(rects[0].attrib["width"]) == float(rects[1].attrib["width"])  # ten days each
    assert chart.start == START and chart.end == START + dt.timedelta(days=19)


def test_unknown_states_are_not_drawn_and_text_is_escaped():
    bands = [("<script>", START, START)]
    chart = mood_chart_render(checkins=_days([0]), bands=bands)
    assert chart is not None
    assert chart.bands == 0 and "<script>" not in chart.svg


def test_no_checkins_and_no_truth_is_no_chart():
    assert mood_chart_render(checkins=[]) is None


@pytest.mark.exclusive
def test_ten_years_are_weekly_means_and_render_fast():
    offsets = [o for o in range(3650) if o % 7 != 3]  # one missed day a week
    days = _days(offsets)
    bands = [("euthymic", START, START + dt.timedelta(days=3649))]
    began = time.perf_counter()
    chart = mood_chart_render(checkins=days, bands=bands)
    assert chart is not None
    elapsed = time.perf_counter() - began
    assert chart.mode == "weekly" and 3650 > DAILY_LIMIT
    root = ET.fromstring(chart.svg)  # noqa: S314 - our own SVG
    marks = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "checkin-mark"]
    assert sum(int(m.attrib["data-checkins"]) for m in marks) == len(days)  # every check-in counted
    assert len(marks) == chart.points <= 523
    # 200 KB before each week carried its values as a hover title (about 220 bytes a week).
    assert len(chart.svg) < 320_000
    assert len(chart.svg_narrow) < 200_000
    assert elapsed < 0.5, f"{elapsed:.3f} s for ten years"


def test_weekly_mean_is_the_mean_of_the_week():
    days = [
        DayValues(dt.date(2026, 1, 5), energy=2, depressed=0, elevation=0, sleep=6),  # a Monday
        DayValues(dt.date(2026, 1, 7), energy=4, depressed=0, elevation=0, sleep=8),
    ]
    chart = mood_chart_render(
        checkins=days, bands=[("euthymic", dt.date(2024, 1, 1), dt.date(2026, 1, 11))], daily_limit=30
    )
    assert chart is not None
    assert chart.mode == "weekly" and chart.points == 1
    dot = re.search(r'series-energy".*?<circle cx="[\d.]+" cy="([\d.]+)"', chart.svg)
    assert dot is not None
    assert abs(float(dot.group(1)) - (14 + 190 - 3 / 11 * 190)) < 0.06  # mean energy 3 (the panel tops at 11)
