"""Small inline SVG charts for the dashboards: no JavaScript, no CDN, readable without colour
(each chart has a title and a text table fallback in the page)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 560, 160, 28


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def line_chart(title: str, points: Sequence[tuple[dt.date, float | int | None]], unit: str = "") -> SafeString:
    """A time series; days without a value leave a gap in the line."""
    values = [v for _, v in points if v is not None]
    top = max(values, default=0)
    bottom = min(0, min(values, default=0))
    span = (top - bottom) or 1
    count = max(len(points) - 1, 1)

    def xy(index: int, value: float) -> str:
        x = PAD + index * (WIDTH - 2 * PAD) / count
        y = HEIGHT - PAD - (value - bottom) * (HEIGHT - 2 * PAD) / span
        return f"{x:.1f},{y:.1f}"

    paths, current = [], []
    for index, (_day, value) in enumerate(points):
        if value is None:
            if current:
                paths.append(current)
            current = []
        else:
            current.append(xy(index, value))
    if current:
        paths.append(current)
    shapes = []
    for path in paths:
        if len(path) == 1:
            x, y = path[0].split(",")
            shapes.append(f'<circle cx="{x}" cy="{y}" r="2.5" class="chart__dot"/>')
        else:
            shapes.append(f'<polyline points="{" ".join(path)}" class="chart__line" fill="none"/>')
    first = points[0][0].isoformat() if points else ""
    last = points[-1][0].isoformat() if points else ""
    axis = (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="chart__axis"/>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" class="chart__label">{escape(first)}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end" class="chart__label">{escape(last)}</text>'
        f'<text x="4" y="{PAD}" class="chart__label">{escape(_number(top))}{escape(unit)}</text>'
        f'<text x="4" y="{HEIGHT - PAD}" class="chart__label">{escape(_number(bottom))}{escape(unit)}</text>'
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}{}</svg>',
        WIDTH, HEIGHT, title, title, mark_safe(axis), mark_safe("".join(shapes)),
    )


def bar_chart(title: str, bars: Sequence[tuple[str, int | float]]) -> SafeString:
    """Vertical bars, e.g. answers per score."""
    top = max((v for _, v in bars), default=0) or 1
    width = (WIDTH - 2 * PAD) / max(len(bars), 1)
    shapes = []
    for index, (label, value) in enumerate(bars):
        height = value * (HEIGHT - 2 * PAD) / top
        x = PAD + index * width
        y = HEIGHT - PAD - height
        shapes.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{max(width - 4, 1):.1f}" height="{height:.1f}" class="chart__bar">'
            f"<title>{escape(label)}: {escape(_number(value))}</title></rect>"
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" class="chart__label">{escape(label)}</text>'
            f'<text x="{x + width / 2:.1f}" y="{max(y - 3, 10):.1f}" text-anchor="middle" class="chart__label">'
            f"{escape(_number(value))}</text>"
        )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}</svg>',
        WIDTH, HEIGHT, title, title, mark_safe("".join(shapes)),
    )
