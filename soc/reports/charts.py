"""Inline SVG charts written by hand (no plotting dependency): a trend line, a severity mix, and
top-N bars. Each function returns one ``<svg>`` element sized in pixels, with its own text, so an
HTML report stays one self-contained file that prints as it shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
INK, GRID, MUTED = "#1f2933", "#d9dee3", "#52606d"
SEVERITY_COLOURS = {"critical": "#7b1e1e", "high": "#d64545", "medium": "#f0a202",
                    "low": "#3f83c6", "informational": "#9aa5b1"}
SERIES_COLOURS = ("#1d5fa8", "#d64545", "#2f8f5b", "#8a5cc2")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" font-family="{FONT}" '
            f'font-size="12" fill="{INK}"><title>{escape(title)}</title>'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12,
          colour: str = INK, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{colour}" font-weight="{weight}">{escape(text)}</text>')


def nice_max(value: float) -> float:
    """The axis maximum: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _num(value: float) -> str:
    whole = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return whole.replace(",", "\u202f")


def trend(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
          title: str, width: int = 680, height: int = 240) -> str:
    """A line chart over time: one line per series (name, values), one x label per point
    (thinned to stay readable), four y grid lines from 0 to a round maximum."""
    left, right, top, bottom = 56, 16, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_max(max((v for _, values in series for v in values), default=0))
    n = max(len(labels), 1)
    body = [_text(left, 18, title, size=13, weight="bold")]
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 6, y + 4, _num(peak * i / 4), "end", 11, MUTED))

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            body.append(_text(x_at(i), top + plot_h + 18, label, "middle", 11, MUTED))
    for k, (name, values) in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        points = " ".join(f"{x_at(i):.1f},{top + plot_h - plot_h * v / peak:.1f}"
                          for i, v in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.2" stroke-linejoin="round"/>')
        for i, v in enumerate(values):
            body.append(f'<circle cx="{x_at(i):.1f}" cy="{top + plot_h - plot_h * v / peak:.1f}" '
                        f'r="2.6" fill="{colour}"/>')
        lx = left + 8 + k * 170
        body.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="4" fill="{colour}"/>')
        body.append(_text(lx + 17, height - 9, name, size=11))
    return _svg(width, height, title, body)


def severity_mix(counts: Sequence[tuple[str, str, int]], *, title: str, width: int = 680,
                 height: int = 110) -> str:
    """One stacked bar of (key, label, count) by severity, with a legend that gives each count
    (so a thin slice is still readable)."""
    left, bar_y, bar_h = 16, 34, 26
    total = sum(c for _, _, c in counts)
    body = [_text(left, 18, title, size=13, weight="bold")]
    x = float(left)
    span = width - 2 * left
    if total == 0:
        body.append(f'<rect x="{left}" y="{bar_y}" width="{span}" height="{bar_h}" '
                    f'fill="{GRID}"/>')
        body.append(_text(width / 2, bar_y + 17, "0", "middle", 12, MUTED))
    for key, _label, count in counts:
        if total and count:
            w = span * count / total
            body.append(f'<rect x="{x:.1f}" y="{bar_y}" width="{w:.1f}" height="{bar_h}" '
                        f'fill="{SEVERITY_COLOURS.get(key, MUTED)}"/>')
            x += w
    lx = float(left)
    for key, label, count in counts:
        body.append(f'<rect x="{lx:.1f}" y="{bar_y + bar_h + 16}" width="12" height="12" '
                    f'fill="{SEVERITY_COLOURS.get(key, MUTED)}"/>')
        body.append(_text(lx + 17, bar_y + bar_h + 26, f"{label}: {_num(count)}", size=12))
        lx += span / max(len(counts), 1)
    return _svg(width, height, title, body)


def top_bars(items: Sequence[tuple[str, float]], *, title: str, width: int = 680,
             colour: str = SERIES_COLOURS[0]) -> str:
    """Horizontal bars for the top N (label, value), biggest first; labels are cut at 34
    characters with an ellipsis so that none runs into its bar."""
    label_w, right, row_h, top = 250, 70, 24, 30
    height = top + row_h * max(len(items), 1) + 8
    peak = max((v for _, v in items), default=0) or 1
    span = width - label_w - right
    body = [_text(16, 18, title, size=13, weight="bold")]
    if not items:
        body.append(_text(16, top + 16, "Không có dữ liệu trong kỳ", size=12, colour=MUTED))
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        shown = label if len(label) <= 34 else label[:33] + "…"
        body.append(_text(label_w - 8, y + 15, shown, "end", 12))
        w = max(span * value / peak, 1.5)
        body.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                    f'fill="{colour}" rx="2"/>')
        body.append(_text(label_w + w + 6, y + 15, _num(value), size=12, colour=MUTED))
    return _svg(width, height, title, body)
