"""The chart people can read (pure): colour-blind-safe state bands (colour distance under
simulated colour blindness), lines with 3:1 contrast on every band in both themes, headroom
above 10, a hover/focus title per day, ticks that fit from 7 days to 10 years."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import xml.etree.ElementTree as ET

import pytest

from synthadmin.mood_chart import (
    BAND_COLOURS,
    BAND_COLOURS_DARK,
    INK,
    MOOD_TOP,
    NARROW,
    SERIES,
    SERIES_DARK,
    WIDE,
    Chart,
    DayValues,
    mood_chart_css,
    mood_chart_render,
    x_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
START = dt.date(2026, 1, 5)
#: Viénot, Brettel & Mollon (1999): dichromat vision in linear RGB.
VISION = {
    "normal": None,
    "protanopia": ((0.11238, 0.88762, 0), (0.11238, 0.88762, 0), (0.00401, -0.00401, 1)),
    "deuteranopia": ((0.29275, 0.70725, 0), (0.29275, 0.70725, 0), (-0.02234, 0.02234, 1)),
    "tritanopia": ((1, 0.14461, -0.14461), (0, 0.85924, 0.14076), (0, 0.85924, 0.14076)),
}
#: Least CIE76 colour difference between two state bands, in every vision (about 2.3 is
#: "just noticeable"; 10 is clearly different at a glance).
MIN_BAND_DISTANCE = 10.0
#: WCAG 2.1's contrast for graphics (1.4.11, non-text contrast).
MIN_LINE_CONTRAST = 3.0
THEMES = {
    "light": (BAND_COLOURS, {a: c for a, _, c, _ in SERIES}),
    "dark": (BAND_COLOURS_DARK, SERIES_DARK),
}


def _linear(colour: str) -> tuple[float, float, float]:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return r, g, b


def _luminance(colour: str) -> float:
    r, g, b = _linear(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    dark, light = sorted((_luminance(a), _luminance(b)))
    return (light + 0.05) / (dark + 0.05)


def _lab(colour: str, vision: str) -> tuple[float, float, float]:
    rgb = _linear(colour)
    matrix = VISION[vision]
    if matrix is not None:
        r, g, b = (min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True)))) for row in matrix)
    else:
        r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def distance(a: str, b: str, vision: str) -> float:
    return math.dist(_lab(a, vision), _lab(b, vision))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("vision", VISION)
def test_state_bands_are_clearly_distinct_for_colour_blind_eyes_too(theme, vision):
    bands, _ = THEMES[theme]
    closest = min(
        (distance(a, b, vision), sa, sb) for (sa, a), (sb, b) in itertools.combinations(bands.items(), 2)
    )
    assert closest[0] >= MIN_BAND_DISTANCE, closest
    # The two depressions, the complaint: far apart in every vision.
    assert distance(bands["depressed_mild"], bands["depressed_severe"], vision) >= 1.5 * MIN_BAND_DISTANCE


@pytest.mark.parametrize("theme", THEMES)
def test_every_line_stands_out_on_every_band_and_on_the_background(theme):
    bands, lines = THEMES[theme]
    for (state, band), (line, colour) in itertools.product(bands.items(), lines.items()):
        assert contrast(colour, band) >= MIN_LINE_CONTRAST, (theme, line, state, contrast(colour, band))
        assert contrast(colour, INK[theme][0]) >= 4.5, (theme, line)  # on the halo around it
    assert contrast(INK[theme][1], INK[theme][0]) >= 7  # text and rug on the page


def test_dark_theme_colours_are_in_the_page_style():
    css = mood_chart_css()
    for colour in [*BAND_COLOURS_DARK.values(), *SERIES_DARK.values(), *INK["dark"]]:
        assert colour in css
    assert "html[data-theme='dark']" in css and "prefers-color-scheme: dark" in css


def _chart(days: int, **values: float) -> ET.Element:
    checkins = [
        DayValues(
            START + dt.timedelta(days=d),
            **{"energy": 10, "depressed": 0, "elevation": 9.5, "sleep": 4.5, **values},
        )
        for d in range(days)
    ]
    bands = [("manic", START, START + dt.timedelta(days=days - 1))]
    return ET.fromstring(_rendered(checkins, bands).svg)  # noqa: S314 - our own SVG


def _rendered(checkins: list[DayValues], bands: list[tuple[str, dt.date, dt.date]] | None = None) -> Chart:
    chart = mood_chart_render(checkins=checkins, bands=bands or [])
    assert chart is not None
    return chart


def _title(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text


def _narrow(days: int) -> str:
    checkins = [DayValues(START + dt.timedelta(days=d), energy=5) for d in range(days)]
    return _rendered(checkins).svg_narrow


def test_a_score_of_ten_stays_below_the_frame():
    root = _chart(10)
    path = next(p for p in root.iter(f"{SVG}path") if p.get("id") == "mood-energy-wide")
    ys = [float(xy.split(",")[1]) for xy in path.attrib["d"].replace("M", "").split(" L")]
    assert min(ys) >= MOOD_TOP + 15  # headroom above 10 (the energy line is at 10)


def test_each_day_has_its_values_on_hover_and_focus():
    root = _chart(30)
    targets = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "day"]
    assert len(targets) == 30
    first = targets[0]
    assert first.get("tabindex") == "0"
    text = _title(first)
    assert text.startswith("Mon 05 Jan 2026 — Manic")
    narrow = ET.fromstring(_narrow(30))  # noqa: S314 - our own SVG
    assert not [r for r in narrow.iter(f"{SVG}rect") if r.get("class") == "day"]
    assert "Energy 10 · Depressed mood 0 · Elevation 9.5 · Hours slept 4.5 h" in text


def test_weekly_points_say_they_are_weekly_means():
    root = _chart(800)
    first = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "day")
    title = _title(first)
    assert title.startswith("Week of Mon 05 Jan 2026, 7 days — Manic") and title.endswith("(means)")


@pytest.mark.parametrize("days", [7, 14, 30, 60, 90, 180, 365, 730, 1100, 1826, 3650])
@pytest.mark.parametrize("layout", [WIDE, NARROW], ids=lambda layout: layout.name)
def test_ticks_are_sensible_from_a_week_to_ten_years(days, layout):
    end = START + dt.timedelta(days=days - 1)
    ticks, label = x_ticks(START, end, layout)
    labels = [t.strftime(label) for t in ticks]
    assert len(labels) >= 3 or (days <= 14 and len(labels) >= 2), labels
    assert len(set(labels)) == len(labels), labels  # no label twice
    assert len(labels) * layout.label_room(labels[0]) <= layout.plot_width  # none overlap
    assert all(START <= t <= end for t in ticks)
    if layout is WIDE:
        assert len(labels) >= min(days, 4)  # a 30-day chart has more than two ticks


def test_both_drawings_are_made():
    chart = _rendered([DayValues(START, energy=5)])
    assert 'data-layout="wide"' in chart.svg and 'class="mood-chart"' in chart.svg
    assert 'data-layout="narrow"' in chart.svg_narrow and 'class="mood-chart-narrow"' in chart.svg_narrow
