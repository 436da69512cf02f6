"""The quarterly report's charts as PNG bytes (matplotlib, headless)."""

from __future__ import annotations

import io
from typing import Any


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def quarterly_charts(figures: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    months = [m["month"] for m in figures["months"]]
    charts: dict[str, bytes] = {}

    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    ax.bar(months, [m["manual_payouts"] for m in figures["months"]], color="#c0392b")
    ax.set_title("Manual payouts per month")
    ax.set_ylabel("payouts")
    charts["manual-payouts-per-month.png"] = _png(fig)

    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    ax.bar(months, [m["fallback_cents"] / 100 for m in figures["months"]], color="#e67e22", label="fallback CAD")
    ax.set_ylabel("CAD")
    ax2 = ax.twinx()
    ax2.plot(
        months,
        [100 * (m["fallback_ratio"] or 0) for m in figures["months"]],
        color="#2c3e50",
        marker="o",
        label="% of automated",
    )
    ax2.set_ylabel("% of automated volume")
    ax.set_title("Fallback CAD and its share of automated volume")
    charts["fallback-cad-and-ratio.png"] = _png(fig)

    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    hours = [d / 3600 for d in figures["detection_to_completion"]["durations_s"]]
    ax.hist(hours or [0], bins=min(20, max(1, len(hours))), color="#2980b9")
    ax.set_title("Detection to completed manual transfer")
    ax.set_xlabel("hours")
    ax.set_ylabel("payouts")
    charts["detection-to-completion.png"] = _png(fig)
    return charts
