"""Charts as server-rendered SVG (no script, no build step): a bar chart whose bars can be
links (the drill-down to the matching conversations). Each chart has a title and a text
description for screen readers; every bar carries its label and value in a ``<title>`` and in
``data-`` attributes (the browser tests read them)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 44, 40, 14


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str | None = None  # the conversations behind the bar


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    for scale in (0.01, 0.1, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000):
        for step in (1, 2, 2.5, 5):
            if step * scale * 4 >= top:
                return step * scale * 4
    return top


def _axis_label(label: str) -> str:
    """Short x-axis text: dates without the year; long names cut."""
    if re.match(r"^\d{4}-\d{2}-\d{2}", label):
        return label[5:]
    if label.startswith("week of "):
        return "wk " + label[13:]
    return label if len(label) <= 16 else label[:15] + "\u2026"


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def bar_chart(
    name: str, title: str, bars: list[Bar], *, percent: bool = False, color: str = "#2563eb"
) -> Markup:
    """An SVG bar chart; ``name`` identifies it (``data-chart``)."""
    if not bars:
        return Markup('<p class="empty">No data for this period.</p>')
    top = 1.0 if percent else max(4.0, _nice(max(b.value for b in bars)))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / len(bars)
    width = max(2.0, min(48.0, slot * 0.7))
    parts = [
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(name)}-t {escape(name)}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(name)}-t">{escape(title)}</title>',
        f'<desc id="{escape(name)}-d">'
        + escape("; ".join(f"{b.label}: {_fmt(b.value, percent)}" for b in bars))
        + "</desc>",
    ]
    for i in range(5):  # grid lines and the scale
        y = TOP + plot_h * (1 - i / 4)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4b5563">{escape(_fmt(top * i / 4, percent))}</text>'
        )
    shown = [_axis_label(b.label) for b in bars]
    widest = max(len(s) for s in shown) * 6.5 + 8
    every = max(1, math.ceil(widest / slot))  # x labels that fit side by side
    for i, b in enumerate(bars):
        h = plot_h * min(1.0, b.value / top) if top else 0
        x = LEFT + slot * i + (slot - width) / 2
        y = TOP + plot_h - h
        text = f"{b.label}: {_fmt(b.value, percent)}"
        rect = (
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{color}" data-label="{escape(b.label)}" '
            f'data-value="{b.value}"><title>{escape(text)}</title></rect>'
        )
        if b.href:
            rect = (
                f'<a href="{escape(b.href)}" aria-label="{escape(text)}: open the '
                f'conversations">{rect}</a>'
            )
        parts.append(rect)
        if i % every == 0:
            label = shown[i]
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle" font-size="11" fill="#374151">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
