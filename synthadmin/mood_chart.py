"""A patient's whole history as server-side SVG (pure: no database, no Django, no clock).

Two panels share the time axis: mood scores 0-10 (energy, depressed mood, elevation) above,
hours slept below, and under them a rug with one mark per check-in. A missed day breaks the
lines (a gap, never a line across it); the ground-truth mood state of every day, when known,
is drawn as coloured bands behind both panels.

Read by people: the state bands are colour-blind-safe (distinct in lightness as well as hue,
checked under simulated protanopia, deuteranopia and tritanopia by
``tests/story/test_mood_chart_readable.py``), every line keeps a contrast of at least 3:1 on
every band and runs on a halo of the background, the lines differ by dash as well as colour,
the mood panel has headroom above 10 (a manic week does not pin a line to the frame), and each
day (each week, past ``DAILY_LIMIT``) is a hover and focus target whose ``<title>`` gives its
date, state and values. The chart is drawn twice: ``WIDE`` for screens, ``NARROW`` (fewer,
larger labels; no hover targets, which a phone cannot use) for phones; the page shows one by
CSS. Dark mode (the admin's theme, or the system's) switches to ``BAND_COLOURS_DARK`` and
``SERIES_DARK`` (``mood_chart_css``).

Long histories stay small and fast: past ``DAILY_LIMIT`` days the points are weekly means
(Monday to Sunday; a week without any check-in is the gap) and the rug has one mark per week,
shaded by how many days of it have a check-in. Ten years are then ~520 points per series.

Every value written into the markup is a number, an ISO date or a state name from
``BAND_COLOURS``; text is escaped all the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

#: Up to this many days of window the chart is daily; beyond it, weekly means.
DAILY_LIMIT = 731

HEIGHT = 384
MOOD_TOP, MOOD_HEIGHT = 14, 190
SLEEP_TOP, SLEEP_HEIGHT = 234, 100
RUG_TOP, RUG_HEIGHT = 344, 10
AXIS_Y = 374
#: The mood panel's top: headroom above the highest score (10), so a line at 10 stays off the frame.
MOOD_HIGH = 11.0
#: The sleep panel's headroom above its highest value (at least 14 h).
SLEEP_HEADROOM = 1.08


@dataclass(frozen=True)
class Layout:
    """One drawing of the chart: its width in SVG units, margins and label size."""

    name: str
    width: int
    left: int
    right: int
    font: int

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    def label_room(self, label: str) -> float:
        """The width a tick label needs, with a gap to its neighbour."""
        return len(label) * self.font * 0.62 + self.font


#: For screens: wide, small labels.
WIDE = Layout("wide", 1000, 46, 12, 11)
#: For phones (about 390 px): shown at nearly its own size, so its labels stay readable.
NARROW = Layout("narrow", 420, 34, 10, 14)

#: (attribute, legend, colour, panel) of each line; colours for the light theme.
SERIES: tuple[tuple[str, str, str, str], ...] = (
    ("energy", "Energy", "#003f8a", "mood"),
    ("depressed", "Depressed mood", "#1a1a1a", "mood"),
    ("elevation", "Elevation", "#6b2300", "mood"),
    ("sleep", "Hours slept", "#004632", "sleep"),
)
#: The lines' colours in the dark theme.
SERIES_DARK: dict[str, str] = {
    "energy": "#9cc9ff",
    "depressed": "#f2f2f2",
    "elevation": "#ffc27a",
    "sleep": "#7fe0bd",
}
#: Each line's dash, so the lines differ by more than colour ("" = solid).
DASHES: dict[str, str] = {"energy": "", "depressed": "7 3", "elevation": "2 2.5", "sleep": ""}

#: Ground-truth states and their band colours (light theme): distinct in lightness and hue,
#: also for colour-blind eyes; every line keeps 3:1 contrast on each.
BAND_COLOURS: dict[str, str] = {
    "euthymic": "#f0f0f0",
    "depressed_mild": "#c6dbef",
    "depressed_severe": "#6baed6",
    "hypomanic": "#fee391",
    "manic": "#fd8d3c",
    "mixed": "#b777f7",
}
#: The same in the dark theme.
BAND_COLOURS_DARK: dict[str, str] = {
    "euthymic": "#2b2430",
    "depressed_mild": "#094f73",
    "depressed_severe": "#142362",
    "hypomanic": "#514817",
    "manic": "#401b04",
    "mixed": "#a40dd5",
}
#: (background: the lines' halo, ink: text, grid and rug) in each theme.
INK = {"light": ("#ffffff", "#333333"), "dark": ("#121212", "#dddddd")}
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
    #: The same chart drawn for a phone (``NARROW``).
    svg_narrow: str = ""


def mood_chart_render(
    *,
    checkins: Sequence[DayValues],
    bands: Iterable[tuple[str, dt.date, dt.date]] = (),
    daily_limit: int = DAILY_LIMIT,
) -> Chart | None:
    """The SVG of ``checkins`` (date order) over the window they and ``bands`` cover, wide and
    narrow; None if empty."""
    kept = [b for b in bands if b[0] in BAND_COLOURS]
    days = [c.day for c in checkins]
    edges = days + [b[1] for b in kept] + [b[2] for b in kept]
    if not edges:
        return None
    start, end = min(edges), max(edges)
    weekly = (end - start).days + 1 > daily_limit
    points = _weekly(checkins) if weekly else list(checkins)
    drawn = _Drawing(checkins=checkins, points=points, bands=kept, start=start, end=end, weekly=weekly)
    return Chart(
        svg=drawn.svg(WIDE),
        mode="weekly" if weekly else "daily",
        start=start,
        end=end,
        points=len(points),
        bands=len(kept),
        svg_narrow=drawn.svg(NARROW),
    )


#: Both drawings of the chart, in CSS.
_CHART = ":is(.mood-chart, .mood-chart-narrow)"


def mood_chart_css() -> str:
    """The chart's theme: the dark theme's colours (the admin's ``data-theme="dark"``, or the
    system's when the admin follows it) for the chart and its key, and the hover/focus mark."""
    dark: list[tuple[list[str], str]] = [
        ([_CHART, ".chart-key"], f"color: {INK['dark'][1]};"),
        ([f"{_CHART} .halo", f"{_CHART} .dots"], f"stroke: {INK['dark'][0]};"),
        ([f"{_CHART} .grid"], f"stroke: {INK['dark'][1]}; stroke-opacity: .35;"),
    ]
    for state, colour in BAND_COLOURS_DARK.items():
        dark.append(([f"{_CHART} .band[data-state='{state}']"], f"fill: {colour};"))
        dark.append(([f".chart-key .key-band-{state}"], f"background: {colour};"))
    for attribute, colour in SERIES_DARK.items():
        dark.append(([f"{_CHART} .series-{attribute} .line"], f"stroke: {colour};"))
        dark.append(([f"{_CHART} .series-{attribute} .dots"], f"fill: {colour};"))
        dark.append(([f".chart-key .key-{attribute}"], f"border-color: {colour};"))
    light: list[tuple[list[str], str]] = [
        ([_CHART, ".chart-key"], f"color: {INK['light'][1]};"),
        *(([f".chart-key .key-band-{state}"], f"background: {c};") for state, c in BAND_COLOURS.items()),
        *(([f".chart-key .key-{attribute}"], f"border-color: {c};") for attribute, _, c, _ in SERIES),
        ([f"{_CHART} .day"], "fill: currentColor; fill-opacity: 0;"),
        ([f"{_CHART} .day:hover", f"{_CHART} .day:focus"], "fill-opacity: .16; outline: none;"),
        ([f"{_CHART} .day:focus"], "stroke: currentColor; stroke-width: 1;"),
    ]
    chosen = _css(dark, "html[data-theme='dark'] ")
    followed = _css(dark, "html:not([data-theme='light']) ")
    return f"{_css(light, '')} {chosen} @media (prefers-color-scheme: dark) {{ {followed} }}"


def _css(rules: list[tuple[list[str], str]], prefix: str) -> str:
    """``rules`` as CSS, each selector behind ``prefix``."""
    return " ".join(", ".join(prefix + s for s in selectors) + f" {{ {body} }}" for selectors, body in rules)


class _Scale:
    def __init__(self, layout: Layout, start: dt.date, span: int) -> None:
        self.left = layout.left
        self.name = layout.name
        self.start = start
        self.unit = layout.plot_width / span

    def x(self, day: dt.date) -> float:
        return self.left + (day - self.start).days * self.unit

    def mid(self, day: dt.date, days: float = 1.0) -> float:
        return self.x(day) + self.unit * days / 2


@dataclass(frozen=True)
class _Drawing:
    """What the chart shows, drawn in any ``Layout``."""

    checkins: Sequence[DayValues]
    points: Sequence[DayValues]
    bands: Sequence[tuple[str, dt.date, dt.date]]
    start: dt.date
    end: dt.date
    weekly: bool

    def svg(self, layout: Layout) -> str:
        span = (self.end - self.start).days + 1
        scale = _Scale(layout, self.start, span)
        sleep_high = max([14.0, *(p.sleep for p in self.points if p.sleep is not None)]) * SLEEP_HEADROOM
        title_id = f"mood-chart-title-{layout.name}"
        css_class = "mood-chart" if layout is WIDE else f"mood-chart-{layout.name}"
        parts: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" '
            f'viewBox="0 0 {layout.width} {HEIGHT}" role="img" aria-labelledby="{title_id}" '
            f'data-mode="{"weekly" if self.weekly else "daily"}" data-layout="{layout.name}" '
            f'data-start="{self.start.isoformat()}" data-end="{self.end.isoformat()}" '
            f'font-family="sans-serif" font-size="{layout.font}">',
            f'<title id="{title_id}">Check-ins from {self.start.isoformat()} to {self.end.isoformat()}'
            f"{' (weekly means)' if self.weekly else ''}</title>",
            _bands(self.bands, scale),
            *_frame(layout, sleep_high),
            *_x_axis(self.start, self.end, scale, layout),
        ]
        for attribute, legend, colour, panel in SERIES:
            top, height, high = (
                (MOOD_TOP, MOOD_HEIGHT, MOOD_HIGH)
                if panel == "mood"
                else (SLEEP_TOP, SLEEP_HEIGHT, sleep_high)
            )
            y_of = _y(top, height, high)
            parts.append(_series(self.points, attribute, legend, colour, scale, y_of, weekly=self.weekly))
        parts.append(_rug(self.checkins, scale, weekly=self.weekly))
        if layout is WIDE:  # a phone shows no hover title: the narrow drawing goes without
            parts.append(
                _day_targets(self.points, self.bands, scale, weekly=self.weekly, checkins=self.checkins)
            )
        parts.append("</svg>")
        return "".join(parts)


def _y(top: float, height: float, high: float) -> Callable[[float], float]:
    return lambda value: top + height - value / high * height


def _bands(bands: Sequence[tuple[str, dt.date, dt.date]], scale: _Scale) -> str:
    parts = ['<g class="bands">']
    for state, first, last in bands:
        x0, x1 = scale.x(first), scale.x(last + dt.timedelta(days=1))
        parts.append(
            f'<rect class="band" data-state="{escape(state)}" x="{x0:.2f}" '
            f'y="{MOOD_TOP}" width="{max(x1 - x0, 0.5):.2f}" height="{RUG_TOP - MOOD_TOP}" '
            f'fill="{BAND_COLOURS[state]}">'
            f"<title>{escape(STATE_LABELS[state])}: {first.isoformat()} to {last.isoformat()}</title></rect>"
        )
    parts.append("</g>")
    return "".join(parts)


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
    y_of: Callable[[float], float],
    *,
    weekly: bool,
) -> str:
    """One line: its halo (the background's colour, under it) and the line, dashed as
    ``DASHES`` says; a day (week) alone between gaps is a dot."""
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
    halo = INK["light"][0]
    dots = "".join(
        f'<circle cx="{segment[0][0]:.1f}" cy="{segment[0][1]:.1f}" r="2.2"/>'
        for segment in segments
        if len(segment) == 1
    )
    dash = f' stroke-dasharray="{DASHES[attribute]}"' if DASHES[attribute] else ""
    ref = f"mood-{attribute}-{scale.name}"
    return (
        f'<g class="series series-{attribute}" data-points="{count}" data-segments="{len(segments)}">'
        f'<title>{escape(legend)}</title><defs><path id="{ref}" d="{path}" fill="none"/></defs>'
        f'<use href="#{ref}" class="halo" stroke="{halo}" stroke-opacity=".85" '
        f'stroke-width="4.2" stroke-linejoin="round" stroke-linecap="round"/>'
        f'<use href="#{ref}" class="line" stroke="{colour}" stroke-width="2"{dash} '
        f'stroke-linejoin="round"/>'
        f'<g fill="{colour}" stroke="{halo}" stroke-width="1" class="dots">{dots}</g></g>'
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
                f'x="{scale.x(monday):.1f}" y="{RUG_TOP}" width="{scale.unit * 7:.2f}" height="{RUG_HEIGHT}" '
                f'fill-opacity="{0.15 + 0.85 * min(n, 7) / 7:.2f}"/>'
            )
    else:
        width = max(scale.unit * 0.8, 0.6)
        marks.extend(
            f'<rect class="checkin-mark" data-day="{c.day.isoformat()}" data-checkins="1" '
            f'x="{scale.x(c.day):.2f}" y="{RUG_TOP}" width="{width:.2f}" height="{RUG_HEIGHT}"/>'
            for c in checkins
        )
    return f'<g class="rug" fill="currentColor"><title>Days with a check-in</title>{"".join(marks)}</g>'


def _day_targets(
    points: Sequence[DayValues],
    bands: Sequence[tuple[str, dt.date, dt.date]],
    scale: _Scale,
    *,
    weekly: bool,
    checkins: Sequence[DayValues],
) -> str:
    """A hover and focus target per charted day (week): a column whose ``<title>`` says the
    date, the ground-truth state and the values."""
    state_of: dict[dt.date, str] = {}
    for state, first, last in bands:
        for offset in range((last - first).days + 1):
            state_of[first + dt.timedelta(days=offset)] = state
    per_week: dict[dt.date, int] = {}
    if weekly:
        for c in checkins:
            monday = c.day - dt.timedelta(days=c.day.weekday())
            per_week[monday] = per_week.get(monday, 0) + 1
    days = 7 if weekly else 1
    width, height = scale.unit * days, RUG_TOP + RUG_HEIGHT - MOOD_TOP
    parts = ['<g class="days" fill="currentColor" fill-opacity="0">']
    for p in points:
        covered = [p.day + dt.timedelta(days=d) for d in range(days)]
        states = list(dict.fromkeys(STATE_LABELS[state_of[d]] for d in covered if d in state_of))
        when = (
            f"Week of {p.day:%a %d %b %Y}, {per_week.get(p.day, 0)} days"
            if weekly
            else f"{p.day:%a %d %b %Y}"
        )
        values = " · ".join(
            f"{legend} {_number(getattr(p, attribute))}{' h' if attribute == 'sleep' else ''}"
            for attribute, legend, _, _ in SERIES
        ) + (" (means)" if weekly else "")
        text = f"{when}{' — ' + ', '.join(states) if states else ''}\n{values}"
        parts.append(
            f'<rect class="day" tabindex="0" x="{scale.x(p.day):.1f}" '
            f'y="{MOOD_TOP}" width="{width:.1f}" height="{height}"><title>{escape(text)}</title></rect>'
        )
    parts.append("</g>")
    return "".join(parts)


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _frame(layout: Layout, sleep_high: float) -> list[str]:
    right = layout.width - layout.right
    parts = ['<g class="frame" fill="currentColor">']
    for top, height, high, ticks, name in (
        (MOOD_TOP, MOOD_HEIGHT, MOOD_HIGH, (0, 5, 10), "score 0-10"),
        (SLEEP_TOP, SLEEP_HEIGHT, sleep_high, (0, 7, 14), "sleep h"),
    ):
        for tick in ticks:
            y = top + height - tick / high * height
            parts.append(
                f'<line class="grid" x1="{layout.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="currentColor" stroke-opacity=".3" stroke-width="{1 if tick == 0 else 0.6}"/>'
                f'<text x="{layout.left - 5}" y="{y + layout.font * 0.35:.1f}" '
                f'text-anchor="end">{tick}</text>'
            )
        parts.append(
            f'<text x="{layout.font * 0.9:.1f}" y="{top + height / 2:.1f}" '
            f'transform="rotate(-90 {layout.font * 0.9:.1f} {top + height / 2:.1f})" '
            f'text-anchor="middle">{name}</text>'
        )
    parts.append("</g>")
    return parts


def x_ticks(start: dt.date, end: dt.date, layout: Layout) -> tuple[list[dt.date], str]:
    """The x axis's ticks and their ``strftime`` label: the finest of days, weeks (Mondays),
    months and years whose labels fit ``layout``'s width without overlapping."""
    span = (end - start).days + 1
    every_day = [start + dt.timedelta(days=d) for d in range(span)]
    months = [d for d in every_day if d.day == 1] if span <= 800 else _month_starts(start, end)
    candidates: list[tuple[list[dt.date], str]] = []
    if span <= 800:
        candidates += [
            (every_day, "%d %b"),
            (every_day[::2], "%d %b"),
            ([d for d in every_day if d.weekday() == 0], "%d %b"),
            ([d for d in every_day if d.weekday() == 0][::2], "%d %b"),
        ]
    candidates += [([d for d in months if (d.month - 1) % step == 0], "%b %Y") for step in (1, 2, 3, 6)]
    candidates += [
        ([d for d in months if d.month == 1 and d.year % step == 0], "%Y") for step in (1, 2, 5, 10)
    ]
    for ticks, label in candidates:
        room = layout.label_room(dt.date(2000, 12, 30).strftime(label))
        if 2 <= len(ticks) and len(ticks) * room <= layout.plot_width:
            return ticks, label
    return [start, end], "%d %b %Y"


def _x_axis(start: dt.date, end: dt.date, scale: _Scale, layout: Layout) -> list[str]:
    ticks, label = x_ticks(start, end, layout)
    parts = ['<g class="x-axis" fill="currentColor">']
    for day in ticks:
        x = scale.x(day)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{MOOD_TOP}" y2="{RUG_TOP + RUG_HEIGHT}" '
            f'stroke="currentColor" stroke-opacity=".45" stroke-width="0.5" stroke-dasharray="2,3"/>'
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
