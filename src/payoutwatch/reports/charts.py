"""The quarterly report's charts as PNG bytes (matplotlib, headless), read without hovering: every axis is
titled with its unit, every bar and point carries its exact value, bars have visible edges (two adjacent
bars of 2 read as two), the fallback ratio is drawn against its limit (``max_fallback_ratio`` in the
figures), and a month without any data (one that has not happened yet) is a shaded gap, never 0."""

from __future__ import annotations

import io
import math
from datetime import date
from typing import Any

EDGE = "#1d2733"
LIMIT = "#b3261e"
FONT_PT = 9  # at 144 dpi: 18 px on the image, 12 px or more once a page scales it to fit


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=144, bbox_inches="tight")
    return buffer.getvalue()


def month_label(month: str) -> str:
    """``2026-10`` → ``Oct 2026``."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1).strftime("%b %Y")


def has_data(month: dict[str, Any]) -> bool:
    """A month with no run and no manual payout has nothing to draw (it may not have happened yet)."""
    return bool(month["automated_cents"] or month["manual_payouts"])


def cad(value: float) -> str:
    return f"${value:,.2f}"


def monthly_series(figures: dict[str, Any]) -> dict[str, list[float | None]]:
    """Per month (None where the month has no data): manual payouts, fallback CAD, ratio in %."""
    months = figures["months"]
    return {
        "manual_payouts": [float(m["manual_payouts"]) if has_data(m) else None for m in months],
        "fallback_cad": [m["fallback_cents"] / 100 if has_data(m) else None for m in months],
        "ratio_pct": [None if m["fallback_ratio"] is None else m["fallback_ratio"] * 100 for m in months],
    }


def _gaps(ax: Any, values: list[float | None]) -> None:
    for i, v in enumerate(values):
        if v is None:
            ax.axvspan(i - 0.45, i + 0.45, color="#666677", alpha=0.12, linewidth=0)
            ax.text(i, 0.5, "no data", transform=ax.get_xaxis_transform(), ha="center", fontsize=FONT_PT, color="#555")


def _bars(ax: Any, values: list[float | None], colour: str, label: Any) -> None:
    xs = [i for i, v in enumerate(values) if v is not None]
    bars = ax.bar(xs, [values[i] for i in xs], width=0.6, color=colour, edgecolor=EDGE, linewidth=1)
    ax.bar_label(bars, labels=[label(values[i]) for i in xs], fontsize=FONT_PT, padding=2)
    _gaps(ax, values)


def quarterly_charts(figures: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    matplotlib.rcParams.update({"font.size": FONT_PT})
    months = [month_label(m["month"]) for m in figures["months"]]
    series = monthly_series(figures)
    charts: dict[str, bytes] = {}

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    _bars(ax, series["manual_payouts"], "#c0392b", lambda v: f"{v:g}")
    ax.set_xticks(range(len(months)), months)
    ax.set_title("Manual payouts per month")
    ax.set_xlabel("month (detected)")
    ax.set_ylabel("manual payouts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.15)
    charts["manual-payouts-per-month.png"] = _png(fig)

    fig = Figure(figsize=(6.4, 5.2))
    ax, ratio = fig.subplots(2, 1, sharex=True)
    _bars(ax, series["fallback_cad"], "#e67e22", cad)
    top = max([0.0, *(v for v in series["fallback_cad"] if v is not None)])
    ax.set_ylabel("fallback paid (CAD)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v / 1000:,g}K" if top >= 10_000 else f"${v:,.0f}"))
    ax.margins(y=0.2)
    ax.set_title("Fallback paid per month, and its share of automated volume")
    points = [(i, v) for i, v in enumerate(series["ratio_pct"]) if v is not None]
    ratio.plot(
        range(len(months)),
        [math.nan if v is None else v for v in series["ratio_pct"]],
        color=EDGE,
        marker="o",
        label="fallback share",
    )
    for i, v in points:
        ratio.annotate(f"{v:.2f} %", (i, v), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=FONT_PT)
    limit = figures["max_fallback_ratio"] * 100
    ratio.axhline(limit, color=LIMIT, linestyle="--", linewidth=1.5, label=f"limit {limit:g} %")
    _gaps(ratio, series["ratio_pct"])
    ratio.set_ylabel("% of automated volume")
    ratio.set_ylim(0, max([limit, *(v for _, v in points)]) * 1.35)
    ratio.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
    ratio.legend(loc="upper left", fontsize=FONT_PT)
    ratio.set_xticks(range(len(months)), months)
    ratio.set_xlabel("month")
    charts["fallback-cad-and-ratio.png"] = _png(fig)

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.subplots()
    hours = [d / 3600 for d in figures["detection_to_completion"]["durations_s"]]
    if hours:
        top = max(1, math.ceil(max(hours)))
        step = max(1, math.ceil(top / 16))
        edges = list(range(0, top + step, step))
        counts, _, patches = ax.hist(hours, bins=edges, color="#2980b9", edgecolor=EDGE, linewidth=1, rwidth=0.94)
        ax.set_xticks(edges)  # each bar between two labelled hours
        assert isinstance(patches, BarContainer)  # one data set: one container of bars
        ax.bar_label(patches, labels=[f"{c:g}" if c else "" for c in counts], fontsize=FONT_PT, padding=2)
        ax.margins(y=0.15)
    else:
        ax.text(0.5, 0.5, "no completed manual payout", transform=ax.transAxes, ha="center", fontsize=FONT_PT)
    ax.set_title("Detection to completed manual transfer")
    ax.set_xlabel("hours from detection to completed transfer")
    ax.set_ylabel("manual payouts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    charts["detection-to-completion.png"] = _png(fig)
    return charts
