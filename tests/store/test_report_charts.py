"""The quarterly report's charts: a month without data is a gap (never 0 %), the limit is drawn, and every
chart is a PNG readable without hovering."""

from __future__ import annotations

from payoutwatch.reports.charts import month_label, monthly_series, quarterly_charts

FIGURES = {
    "months": [
        {
            "month": "2026-10",
            "manual_payouts": 0,
            "fallback_cents": 0,
            "automated_cents": 9_000_000,
            "fallback_ratio": 0.0,
        },
        {
            "month": "2026-11",
            "manual_payouts": 130,
            "fallback_cents": 1_350_000,
            "automated_cents": 10_000_000,
            "fallback_ratio": 0.135,
        },
        {"month": "2026-12", "manual_payouts": 0, "fallback_cents": 0, "automated_cents": 0, "fallback_ratio": None},
    ],
    "max_fallback_ratio": 0.05,
    "detection_to_completion": {"durations_s": [1800.0, 2000.0, 5000.0, 5400.0]},
}


def test_a_month_without_data_is_a_gap_and_a_quiet_month_is_zero() -> None:
    series = monthly_series(FIGURES)
    assert series["manual_payouts"] == [0.0, 130.0, None]
    assert series["fallback_cad"] == [0.0, 13_500.0, None]
    assert series["ratio_pct"] == [0.0, 13.5, None]
    assert month_label("2026-12") == "Dec 2026"


def test_every_chart_is_a_png() -> None:
    charts = quarterly_charts(FIGURES)
    assert set(charts) == {"manual-payouts-per-month.png", "fallback-cad-and-ratio.png", "detection-to-completion.png"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in charts.values())
    empty = {**FIGURES, "detection_to_completion": {"durations_s": []}}
    assert quarterly_charts(empty)["detection-to-completion.png"].startswith(b"\x89PNG")
