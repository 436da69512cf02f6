"""Small server-rendered SVG charts (no JavaScript library, no CDN), and which charts each dashboard page shows.

A chart is ``Markup`` (templates place it as it is): it is built here from numbers formatted by this module
and fixed class names, and every text that comes from data (labels, units, stages) goes through ``escape``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from markupsafe import Markup


def bars(
    values: list[tuple[str, float]],
    *,
    width: int = 640,
    height: int = 180,
    unit: str = "",
    highlight: int | None = None,
) -> Markup:
    """A bar chart of (label, value) around a zero line (negative values hang below it); the highlighted
    bar (e.g. the current cycle) stands out."""
    if not values:
        return Markup('<p class="muted">No data.</p>')
    top = max(0.0, max(v for _, v in values))
    bottom_value = min(0.0, min(v for _, v in values))
    span = (top - bottom_value) or 1.0
    gap, left, bottom = 4, 8, 22
    plot = height - bottom - 6
    zero = 6 + plot * top / span
    slot = (width - left) / len(values)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" preserveAspectRatio="none">']
    if bottom_value < 0:
        parts.append(f'<line x1="{left}" x2="{width}" y1="{zero:.1f}" y2="{zero:.1f}" class="axis"/>')
    for i, (label, value) in enumerate(values):
        h = plot * abs(value) / span
        y = zero - h if value >= 0 else zero
        x = left + i * slot
        css = "bar now" if i == highlight else ("bar negative" if value < 0 else "bar")
        parts.append(
            f'<rect class="{css}" x="{x + gap / 2:.1f}" y="{y:.1f}" width="{slot - gap:.1f}"'
            f' height="{h:.1f}"><title>{escape(label)}: {value:,.2f}{escape(unit)}</title></rect>'
        )
        if len(values) <= 14 or i % max(1, len(values) // 8) == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(points: list[tuple[str, float, str]], *, days: int = 60, width: int = 640, height: int = 90) -> Markup:
    """Credentials on a days-left axis from −7 to ``days``: (label, days_left, stage)."""
    if not points:
        return Markup('<p class="muted">No credentials.</p>')
    lo, hi = -7, days

    def x(d: float) -> float:
        return 10 + (width - 20) * (min(max(d, lo), hi) - lo) / (hi - lo)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">',
        f'<line x1="10" y1="{height / 2}" x2="{width - 10}" y2="{height / 2}" class="axis"/>',
    ]
    for mark in (0, 3, 7, 14, 30):
        if mark <= hi:
            parts.append(
                f'<line x1="{x(mark):.1f}" y1="{height / 2 - 6}" x2="{x(mark):.1f}" y2="{height / 2 + 6}" '
                f'class="axis"/><text x="{x(mark):.1f}" y="{height - 4}" text-anchor="middle">{mark}d</text>'
            )
    for i, (label, d, stage) in enumerate(points):
        cy = height / 2 - 14 + (i % 3) * 14
        parts.append(
            f'<circle cx="{x(d):.1f}" cy="{cy:.1f}" r="6" class="stage-{escape(stage)}">'
            f"<title>{escape(label)}: {d:g} days ({escape(stage)})</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def projection(
    history: list[tuple[float, float]],
    projected: tuple[float, float],
    threshold: float,
    *,
    width: int = 300,
    height: int = 90,
) -> Markup:
    """Balance over time (x in days, y in CAD), a dashed line to the projection, and the threshold."""
    if not history:
        return Markup()
    xs = [x for x, _ in history] + [projected[0]]
    ys = [y for _, y in history] + [projected[1], threshold]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0

    def px(x: float) -> float:
        return 4 + (width - 8) * (x - x0) / span_x

    def py(y: float) -> float:
        return height - 4 - (height - 8) * (y - y0) / span_y

    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in history)
    last = history[-1]
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img">'
        f'<line x1="0" x2="{width}" y1="{py(threshold):.1f}" y2="{py(threshold):.1f}" stroke="#b3261e" '
        f'stroke-dasharray="2 3"><title>threshold {threshold:,.2f}</title></line>'
        f'<polyline fill="none" stroke="#24527a" stroke-width="2" points="{line}"/>'
        f'<line x1="{px(last[0]):.1f}" y1="{py(last[1]):.1f}" x2="{px(projected[0]):.1f}" '
        f'y2="{py(projected[1]):.1f}" stroke="#24527a" stroke-dasharray="5 4"/>'
        f'<circle cx="{px(projected[0]):.1f}" cy="{py(projected[1]):.1f}" r="4" fill="#b3261e">'
        f"<title>projected {projected[1]:,.2f}</title></circle></svg>"
    )


def dashboard_charts(name: str, figures: dict[str, Any]) -> dict[str, Markup]:
    """The charts of one dashboard page, by the name its template places them under."""
    if name == "payout_health":
        cycles = list(reversed(figures["cycles"][:13]))
        return {
            "cad": _cycle_bars(cycles, "cad_processed_cents", 100, " CAD", highlight=len(cycles) - 1),
            "duration": _cycle_bars(cycles, "longest_run_s", 60, " min"),
            "retries": _cycle_bars(cycles, "retry_count"),
            "errors": _cycle_bars(cycles, "error_count"),
        }
    if name == "fallback_activity":
        buckets = figures["detection_to_completion"]["histogram_hours"]
        return {"distribution": bars([(b["bucket"], float(b["count"])) for b in buckets])}
    if name == "credentials":
        return {
            "timeline": timeline(
                [(c["name"], c["days_left"], c["stage"]) for c in figures["credentials"] if c["days_left"] is not None]
            )
        }
    if name == "reserves":
        near = figures["near_threshold"][:20]
        charts = {"near": bars([(n["account_id"], n["buffer_pct"]) for n in near], unit=" % buffer")}
        for p in figures["projected_breaches"]:
            if p.get("history") and p["projected_at"]:
                charts[f"projection:{p['account_id']}"] = _projection_chart(p)
        return charts
    return {}


def _cycle_bars(
    cycles: list[dict[str, Any]], field: str, scale: float = 1.0, unit: str = "", highlight: int | None = None
) -> Markup:
    return bars([(c["scheduled_for"][5:10], (c[field] or 0) / scale) for c in cycles], unit=unit, highlight=highlight)


def _projection_chart(p: dict[str, Any]) -> Markup:
    start = datetime.fromisoformat(p["history"][0]["as_of"].replace("Z", "+00:00"))

    def days(text: str) -> float:
        return (datetime.fromisoformat(text.replace("Z", "+00:00")) - start).total_seconds() / 86400

    return projection(
        [(days(h["as_of"]), h["balance_cents"] / 100) for h in p["history"]],
        (days(p["projected_at"]), p["projected_balance_cents"] / 100),
        p["threshold_cents"] / 100,
    )
