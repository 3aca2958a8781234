"""Charts drawn on the server as small SVG documents: no JavaScript library, nothing fetched.

Each chart is one `<svg role="img">` with a `<title>` and a `<desc>` (named by aria-labelledby),
a `<title>` on every bar for a tooltip, and colours that keep 3:1 contrast on white (WCAG 1.4.11).
Pages show the numbers as a table next to the chart as well, so nothing depends on seeing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

LEVEL_COLOURS = {
    "critical": "#7a0916",
    "high": "#b3261e",
    "medium": "#8a5a00",
    "low": "#1d5b8f",
    "informational": "#616e7c",
}
"""The severity colours of app.css (--crit, --high, --med, --low), grey for informational."""
ACCENT = "#0b5cad"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str
    values: Sequence[float]


def nice_step(value: float, ticks: int = 4) -> float:
    """The smallest 1, 2 or 5 × 10^k (at least 1) such that `ticks` steps reach `value`."""
    target = max(value / ticks, 1.0)
    power = 10 ** math.floor(math.log10(target))
    for step in (1, 2, 5, 10):
        if step * power >= target:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:g}" if value < 10000 else f"{value / 1000:g}k"


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" {FONT}>',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]


def stacked_bars(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 720,
    height: int = 260,
    empty: str = "",
) -> str:
    """Vertical bars, one per label, each stacked from the series in order (bottom first).
    Below 200 px high the chart is compact: tighter margins, two gridlines instead of four."""
    compact = height < 200
    left, right, top, bottom = (44, 10, 22, 18) if compact else (44, 10, 30, 34)
    ticks = 2 if compact else 4
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    step = nice_step(max(totals, default=0), ticks)
    ceiling = step * ticks
    out = _open(chart_id, title, desc, width, height)
    out += _legend(series, left, 13 if compact else 14)
    for k in range(ticks + 1):
        y = top + plot_h - plot_h * k / ticks
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9e2ec"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#52606d">'
            f"{_number(step * k)}</text>"
        )
    n = max(len(labels), 1)
    slot = plot_w / n
    bar = max(slot * 0.72, 1.0)
    every = max(1, math.ceil(n / max(plot_w // 64, 1)))
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / ceiling
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{s.colour}">'
                f"<title>{escape(label)} — {escape(s.label)}: {_number(value)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + (13 if compact else 16)}" '
                f'text-anchor="middle" '
                f'fill="#52606d">{escape(label)}</text>'
            )
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#52606d"/>'
    )
    if not any(totals) and empty:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'fill="#52606d" font-size="13">{escape(empty)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[Series], x: int, y: int) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{s.colour}"/>')
        out.append(f'<text x="{x + 14}" y="{y}" fill="#1f2933">{escape(s.label)}</text>')
        x += 22 + 7 * len(s.label)
    return out


def horizontal_bars(
    chart_id: str,
    title: str,
    desc: str,
    items: Sequence[tuple[str, float]],
    *,
    colour: str = ACCENT,
    width: int = 400,
    row: int = 24,
    label_width: int = 170,
    empty: str = "",
    fmt: Callable[[float], str] = _number,
) -> str:
    """One bar per (label, value), longest first as given; long labels are shortened."""
    top = 8
    height = top * 2 + row * max(len(items), 1)
    plot_w = width - label_width - 56
    ceiling = max((v for _, v in items), default=0) or 1
    out = _open(chart_id, title, desc, width, height)
    for i, (label, value) in enumerate(items):
        y = top + i * row
        short = label if len(label) <= 27 else label[:26] + "…"
        w = plot_w * value / ceiling
        out.append(
            f'<text x="{label_width - 6}" y="{y + row * 0.65:.1f}" text-anchor="end" fill="#1f2933">'
            f"{escape(short)}</text>"
        )
        out.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 8}" fill="{colour}">'
            f"<title>{escape(label)}: {fmt(value)}</title></rect>"
        )
        out.append(
            f'<text x="{label_width + max(w, 1) + 4:.1f}" y="{y + row * 0.65:.1f}" fill="#1f2933">'
            f"{fmt(value)}</text>"
        )
    if not items and empty:
        out.append(f'<text x="{width / 2:.1f}" y="{top + row * 0.65:.1f}" text-anchor="middle" '
                   f'fill="#52606d">{escape(empty)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


UNITS = {"en": ("s", "min", "h", "d"), "vi": ("giây", "phút", "giờ", "ngày")}


def duration(seconds: float | None, lang: str = "en") -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 d 4 h` (in Vietnamese: giây, phút, giờ, ngày)."""
    if seconds is None:
        return "—"
    sec, mins, hours, days = UNITS.get(lang, UNITS["en"])
    s = round(seconds)
    if s < 0:
        return f"-{duration(-s, lang)}"
    if s < 90:
        return f"{s} {sec}"
    if s < 3600:
        return f"{round(s / 60)} {mins}"
    if s < 86400:
        return f"{s // 3600} {hours} {s % 3600 // 60:02d} {mins}"
    return f"{s // 86400} {days} {s % 86400 // 3600} {hours}"
