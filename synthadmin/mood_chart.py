"""A patient's whole history as one server-side SVG (pure: no database, no Django, no clock).

Two panels share the time axis: mood scores 0-10 (energy, depressed mood, elevation) above,
hours slept below, and under them a rug with one mark per check-in. A missed day breaks the
lines (a gap, never a line across it); the ground-truth mood state of every day, when known,
is drawn as coloured bands behind both panels.

Long histories stay small and fast: past ``DAILY_LIMIT`` days the points are weekly means
(Monday to Sunday; a week without any check-in is the gap) and the rug has one mark per week,
shaded by how many days of it have a check-in. Ten years are then ~520 points per series.

Every value written into the markup is a number, an ISO date or a state name from
``BAND_COLOURS``; text is escaped all the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

#: Up to this many days of window the chart is daily; beyond it, weekly means.
DAILY_LIMIT = 731

WIDTH, HEIGHT = 1000, 384
LEFT, RIGHT = 46, 12
MOOD_TOP, MOOD_HEIGHT = 14, 190
SLEEP_TOP, SLEEP_HEIGHT = 234, 100
RUG_TOP, RUG_HEIGHT = 344, 10
AXIS_Y = 374
PLOT_WIDTH = WIDTH - LEFT - RIGHT

#: (attribute, legend, colour, panel) of each line.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("energy", "Energy", "#1f77b4", "mood"),
    ("depressed", "Depressed mood", "#5b3f8c", "mood"),
    ("elevation", "Elevation", "#e07b00", "mood"),
    ("sleep", "Hours slept", "#2a9d8f", "sleep"),
)

#: Ground-truth states and their band colours (light enough for the lines to stay readable).
BAND_COLOURS: dict[str, str] = {
    "euthymic": "#e3f2e1",
    "depressed_mild": "#d6e4f5",
    "depressed_severe": "#a9c4ea",
    "hypomanic": "#ffe3b8",
    "manic": "#ffb8a8",
    "mixed": "#e6cdee",
}
STATE_LABELS: dict[str, str] = {
    "euthymic": "Euthymic",
    "depressed_mild": "Mild depression",
    "depressed_severe": "Major depression",
    "hypomanic": "Hypomanic",
    "manic": "Manic",
    "mixed": "Mixed",
}


@dataclass(frozen=True)
class DayValues:
    """One check-in's charted values (None: the key is missing from the payload)."""

    day: dt.date
    energy: float | None = None
    depressed: float | None = None
    elevation: float | None = None
    sleep: float | None = None


@dataclass(frozen=True)
class Chart:
    """The rendered chart and what it drew (for tests and the page)."""

    svg: str
    mode: str  # "daily" or "weekly"
    start: dt.date
    end: dt.date
    points: int  # points per complete series (check-in days, or weeks with a check-in)
    bands: int


def mood_chart_render(
    *,
    checkins: Sequence[DayValues],
    bands: Iterable[tuple[str, dt.date, dt.date]] = (),
    daily_limit: int = DAILY_LIMIT,
) -> Chart | None:
    """The SVG of ``checkins`` (date order) over the window they and ``bands`` cover; None if empty."""
    bands = [b for b in bands if b[0] in BAND_COLOURS]
    days = [c.day for c in checkins]
    edges = days + [b[1] for b in bands] + [b[2] for b in bands]
    if not edges:
        return None
    start, end = min(edges), max(edges)
    span = (end - start).days + 1
    weekly = span > daily_limit
    points = _weekly(checkins) if weekly else list(checkins)
    scale = _Scale(start, span)
    sleep_top = max([14.0, *(p.sleep for p in points if p.sleep is not None)])

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mood-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="mood-chart-title" data-mode="{"weekly" if weekly else "daily"}" '
        f'data-start="{start.isoformat()}" data-end="{end.isoformat()}">',
        f'<title id="mood-chart-title">Check-ins from {start.isoformat()} to {end.isoformat()}'
        f"{' (weekly means)' if weekly else ''}</title>",
        '<g class="bands">',
    ]
    for state, first, last in bands:
        x0, x1 = scale.x(first), scale.x(last + dt.timedelta(days=1))
        parts.append(
            f'<rect class="band" data-state="{escape(state)}" x="{x0:.2f}" y="{MOOD_TOP}" '
            f'width="{max(x1 - x0, 0.5):.2f}" height="{RUG_TOP - MOOD_TOP}" fill="{BAND_COLOURS[state]}">'
            f"<title>{escape(STATE_LABELS[state])}: {first.isoformat()} to {last.isoformat()}</title></rect>"
        )
    parts.append("</g>")
    parts += _frame(sleep_top)
    parts += _x_axis(start, end, scale)
    for attribute, legend, colour, panel in SERIES:
        top, height, high = (
            (MOOD_TOP, MOOD_HEIGHT, 10.0) if panel == "mood" else (SLEEP_TOP, SLEEP_HEIGHT, sleep_top)
        )
        parts.append(
            _series(
                points,
                attribute,
                legend,
                colour,
                scale,
                lambda v, top=top, height=height, high=high: top + height - v / high * height,
                weekly=weekly,
            )
        )
    parts.append(_rug(checkins, scale, weekly=weekly))
    parts.append("</svg>")
    return Chart(
        svg="".join(parts),
        mode="weekly" if weekly else "daily",
        start=start,
        end=end,
        points=len(points),
        bands=len(bands),
    )


class _Scale:
    def __init__(self, start: dt.date, span: int) -> None:
        self.start = start
        self.unit = PLOT_WIDTH / span

    def x(self, day: dt.date) -> float:
        return LEFT + (day - self.start).days * self.unit

    def mid(self, day: dt.date, days: float = 1.0) -> float:
        return self.x(day) + self.unit * days / 2


def _weekly(checkins: Sequence[DayValues]) -> list[DayValues]:
    """Mean of each Monday-to-Sunday week that has a check-in, dated by its Monday."""
    weeks: dict[dt.date, list[DayValues]] = {}
    for c in checkins:
        weeks.setdefault(c.day - dt.timedelta(days=c.day.weekday()), []).append(c)
    return [
        DayValues(
            monday,
            *(_mean(getattr(c, a) for c in members) for a in ("energy", "depressed", "elevation", "sleep")),
        )
        for monday, members in sorted(weeks.items())
    ]


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _series(
    points: Sequence[DayValues],
    attribute: str,
    legend: str,
    colour: str,
    scale: _Scale,
    y_of,
    *,
    weekly: bool,
) -> str:
    step = dt.timedelta(days=7 if weekly else 1)
    width = 7.0 if weekly else 1.0
    segments: list[list[tuple[float, float]]] = []
    previous: dt.date | None = None
    count = 0
    for p in points:
        value = getattr(p, attribute)
        if value is None:
            previous = None
            continue
        xy = (scale.mid(p.day, width), y_of(float(value)))
        if previous is not None and p.day - previous == step:
            segments[-1].append(xy)
        else:
            segments.append([xy])  # a missed day (week) before this one: a new segment
        previous = p.day
        count += 1
    path = " ".join(
        "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in segment) for segment in segments if len(segment) > 1
    )
    dots = "".join(
        f'<circle cx="{segment[0][0]:.1f}" cy="{segment[0][1]:.1f}" r="1.8" fill="{colour}"/>'
        for segment in segments
        if len(segment) == 1
    )
    return (
        f'<g class="series series-{attribute}" data-points="{count}" data-segments="{len(segments)}">'
        f"<title>{escape(legend)}</title>"
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.4" stroke-linejoin="round"/>'
        f"{dots}</g>"
    )


def _rug(checkins: Sequence[DayValues], scale: _Scale, *, weekly: bool) -> str:
    marks: list[str] = []
    if weekly:
        weeks: dict[dt.date, int] = {}
        for c in checkins:
            monday = c.day - dt.timedelta(days=c.day.weekday())
            weeks[monday] = weeks.get(monday, 0) + 1
        for monday, n in sorted(weeks.items()):
            marks.append(
                f'<rect class="checkin-mark" data-day="{monday.isoformat()}" data-checkins="{n}" '
                f'x="{scale.x(monday):.2f}" y="{RUG_TOP}" width="{scale.unit * 7:.2f}" height="{RUG_HEIGHT}" '
                f'fill="#444" fill-opacity="{0.15 + 0.85 * min(n, 7) / 7:.2f}"/>'
            )
    else:
        width = max(scale.unit * 0.8, 0.6)
        marks.extend(
            f'<rect class="checkin-mark" data-day="{c.day.isoformat()}" data-checkins="1" '
            f'x="{scale.x(c.day):.2f}" y="{RUG_TOP}" width="{width:.2f}" height="{RUG_HEIGHT}" fill="#444"/>'
            for c in checkins
        )
    return f'<g class="rug"><title>Days with a check-in</title>{"".join(marks)}</g>'


def _frame(sleep_top: float) -> list[str]:
    parts = ['<g class="frame" font-family="sans-serif" font-size="11" fill="#555">']
    for top, height, high, ticks, name in (
        (MOOD_TOP, MOOD_HEIGHT, 10.0, (0, 5, 10), "score 0-10"),
        (SLEEP_TOP, SLEEP_HEIGHT, sleep_top, (0, 7, 14), "sleep h"),
    ):
        for tick in ticks:
            y = top + height - tick / high * height
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ccc" '
                f'stroke-width="{1 if tick == 0 else 0.5}"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
            )
        parts.append(
            f'<text x="10" y="{top + height / 2:.1f}" transform="rotate(-90 10 {top + height / 2:.1f})" '
            f'text-anchor="middle">{name}</text>'
        )
    parts.append("</g>")
    return parts


def _x_axis(start: dt.date, end: dt.date, scale: _Scale) -> list[str]:
    span = (end - start).days + 1
    if span <= 62:
        every_day = (start + dt.timedelta(days=d) for d in range(span))
        ticks = [day for day in every_day if day.day in (1, 15)]
        label = "%d %b"
    elif span <= 3 * 366:
        every = 1 if span <= 550 else 3
        ticks = [d for d in _month_starts(start, end) if (d.month - 1) % every == 0]
        label = "%b %Y"
    else:
        ticks = [d for d in _month_starts(start, end) if d.month == 1]
        label = "%Y"
    parts = ['<g class="x-axis" font-family="sans-serif" font-size="11" fill="#555">']
    for day in ticks:
        x = scale.x(day)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MOOD_TOP}" y2="{RUG_TOP + RUG_HEIGHT}" stroke="#999" '
            f'stroke-width="0.4" stroke-dasharray="2,3"/>'
            f'<text x="{x:.1f}" y="{AXIS_Y}" text-anchor="middle">{escape(day.strftime(label))}</text>'
        )
    parts.append("</g>")
    return parts


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    day = dt.date(start.year, start.month, 1)
    if day < start:
        day = _next_month(day)
    months = []
    while day <= end:
        months.append(day)
        day = _next_month(day)
    return months


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
