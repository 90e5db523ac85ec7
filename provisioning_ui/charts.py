"""Charts drawn on the server as inline SVG: no script, no library, nothing to load, and
printable. Each chart is an image with a title and a one-sentence description for screen
readers; the page puts the same numbers in a table next to it (the chart is a picture of
the table, never the only place a number is).

Plain functions from numbers to markup; every text that reaches the SVG is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 720
HEIGHT = 220
# Room for the value axis on the left and the date labels below.
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Bar:
    """One day's bar: `total` high, its lower `part` drawn in the alert colour."""

    label: str
    total: int
    part: int = 0


@dataclass(frozen=True)
class Point:
    label: str
    value: int
    limit: int | None = None


def axis_top(largest: int) -> int:
    """The value the axis ends at: `largest` rounded up to 1, 2 or 5 times a power of ten
    (at least 1), so the gridlines fall on round numbers."""
    if largest <= 1:
        return 1
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 2, 5, 10):
        if largest <= step * power:
            return step * power
    return 10 * power  # not reached: largest <= 10 * power


def _y(value: float, top: int) -> float:
    return TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / top


def _n(number: float) -> str:
    """A coordinate as SVG text: one decimal is finer than a pixel at any width shown."""
    return f"{number:.1f}"


def _frame(
    title: str, description: str, top: int, labels: Sequence[str], body: SafeString
) -> SafeString:
    ident = _slug(title)
    slot = PLOT_WIDTH / max(len(labels), 1)
    ticks = [0, top] if top % 2 else [0, top // 2, top]
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, _n(_y(v, top)), _n(_y(v, top)), LEFT - 4, _n(_y(v, top) + 4), v)
            for v in ticks
        ),
    )
    # A date every week, and the last one, so 30 labels never overlap at phone width.
    shown = [i for i in range(len(labels)) if i % 7 == 0 or i == len(labels) - 1]
    dates = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        ((_n(LEFT + slot * (i + 0.5)), HEIGHT - 8, labels[i]) for i in shown),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        ident,
        ident,
        ident,
        title,
        ident,
        description,
        grid,
        body,
        dates,
    )


def _slug(title: str) -> str:
    """An id for the chart's title and description, unique per title on a page."""
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def bar_chart(title: str, description: str, bars: Sequence[Bar]) -> SafeString:
    """Stacked bars, one per label: the whole bar (`total`), its `part` in the alert colour
    at the bottom. Each bar carries its numbers as a tooltip (<title>)."""
    top = axis_top(max((bar.total for bar in bars), default=0))
    slot = PLOT_WIDTH / max(len(bars), 1)
    width = max(slot * 0.7, 1)
    pieces = []
    for i, bar in enumerate(bars):
        x = _n(LEFT + slot * i + (slot - width) / 2)
        base = _y(0, top)
        whole, part = base - _y(bar.total, top), base - _y(bar.part, top)
        pieces.append(
            format_html(
                "<g><title>{}: {} requests, {} failed</title>"
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="bar-alert" x="{}" y="{}" width="{}" height="{}"/></g>',
                bar.label,
                bar.total,
                bar.part,
                x,
                _n(base - whole),
                _n(width),
                _n(whole),
                x,
                _n(base - part),
                _n(width),
                _n(part),
            )
        )
    body = SafeString("".join(pieces))  # each piece is format_html's, escaped
    return _frame(title, description, top, [bar.label for bar in bars], body)


def line_chart(title: str, description: str, points: Sequence[Point]) -> SafeString:
    """A line through the values and, where a point has one, a dashed line at its limit."""
    largest = max((max(p.value, p.limit or 0) for p in points), default=0)
    top = axis_top(largest)
    slot = PLOT_WIDTH / max(len(points), 1)

    def xy(i: int, value: int) -> str:
        return f"{_n(LEFT + slot * (i + 0.5))},{_n(_y(value, top))}"

    line = " ".join(xy(i, p.value) for i, p in enumerate(points))
    limit = " ".join(xy(i, p.limit) for i, p in enumerate(points) if p.limit is not None)
    dots = format_html_join(
        "",
        '<circle class="dot" cx="{}" cy="{}" r="2.5"><title>{}: {}{}</title></circle>',
        (
            (
                *xy(i, p.value).split(","),
                p.label,
                p.value,
                f" of {p.limit}" if p.limit is not None else "",
            )
            for i, p in enumerate(points)
        ),
    )
    body = format_html(
        '{}<polyline class="line" points="{}"/>{}',
        format_html('<polyline class="limit" points="{}"/>', limit) if limit else "",
        line,
        dots,
    )
    return _frame(title, description, top, [p.label for p in points], body)
