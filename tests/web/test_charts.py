"""The data each dashboard chart hands to the browser: gaps are None (never 0), thresholds come from the
configuration, instants are UNIX seconds with the display timezone, and the JSON cannot end its block."""

from __future__ import annotations

import json
import re

from payoutwatch.metrics.fallback_activity import FallbackFigures
from payoutwatch.web.charts import Chart, Series, data_block, figure, unix
from payoutwatch.web.dashboard_charts import chart_specs, fallback_share_chart
from tests.conftest import make_settings, utc

AT = "2026-03-20T00:00:00Z"  # cycles every other Thursday 06:00 Toronto from 2026-03-05: 03-05, 03-19, next 04-02


def cycle(when: str, cad: int, longest_s: float, ratio: float | None) -> dict[str, object]:
    return {
        "scheduled_for": when,
        "cad_processed_cents": cad,
        "runs": 1,
        "retry_count": 0,
        "error_count": 0,
        "success_count": None,
        "longest_run_s": longest_s,
        "processed_ratio": ratio,
    }


def test_cycle_charts_leave_a_gap_for_a_cycle_without_a_run_and_for_the_next_run() -> None:
    settings = make_settings(rules={"automation_failure": {"max_duration_minutes": 45}})
    figures = {"at": AT, "cycles": [cycle("2026-03-19T10:00:00Z", 12_000, 2700, 0.5)]}
    charts = chart_specs("payout_health", figures, settings)
    duration = charts["duration"]
    assert duration.x == [unix("2026-03-05T11:00:00Z"), unix("2026-03-19T10:00:00Z"), unix("2026-04-02T10:00:00Z")]
    assert duration.notes == ["no run", None, "next run"]
    assert duration.series[0].values == [None, 45.0, None]
    assert (duration.series[1].label, duration.series[1].kind, duration.series[1].values) == (
        "limit 45 min",
        "threshold",
        [45, 45, 45],
    )
    assert charts["cad"].series[0].values == [None, 120.0, None] and charts["cad"].unit == "CAD"
    processed = charts["processed"]
    assert processed.series[0].values == [None, 50.0, None]
    assert processed.series[1].values == [90.0, 90.0, 90.0] and processed.y_label == "% of studios"
    assert duration.timezone == "America/Toronto"


def test_the_projection_shows_history_trend_threshold_and_next_run() -> None:
    p = {
        "account_id": "st_1",
        "as_of": "2026-03-02T00:00:00Z",
        "balance_cents": 100_000,
        "threshold_cents": 95_000,
        "slope_cents_per_day": -2000.0,
        "projected_balance_cents": 92_000,
        "projected_at": "2026-03-05T11:00:00Z",
        "history": [
            {"as_of": "2026-03-01T00:00:00Z", "balance_cents": 102_500},
            {"as_of": "2026-03-02T00:00:00Z", "balance_cents": 100_000},
        ],
    }
    figures = {"near_threshold": [], "projected_breaches": [p]}
    chart = chart_specs("reserves", figures, make_settings())["projection:st_1"]
    balance, trend, limit, next_run = chart.series
    assert balance.values == [1025.0, 1000.0, None]
    assert trend.values == [1020.0, 1000.0, 930.83]  # −20 CAD a day from the latest balance: 3 d 11 h to the next run
    assert limit.values == [950.0] * 3 and limit.kind == "threshold"
    assert next_run.values == [None, None, 920.0]
    assert [(m.x, m.label) for m in chart.markers] == [(unix("2026-03-05T11:00:00Z"), "next run")]


def test_near_threshold_draws_each_accounts_own_threshold() -> None:
    near = [
        {"account_id": "st_a", "balance_cents": 1_000, "threshold_cents": 900, "buffer_pct": 11.1},
        {"account_id": "st_b", "balance_cents": 5_000, "threshold_cents": 4_800, "buffer_pct": 4.2},
    ]
    chart = chart_specs("reserves", {"near_threshold": near, "projected_breaches": []}, make_settings())["near"]
    assert chart.x_labels == ["st_a", "st_b"]
    assert [(s.label, s.values) for s in chart.series] == [("balance", [10.0, 50.0]), ("threshold", [9.0, 48.0])]


def test_credential_chart_draws_the_reminder_and_escalation_days() -> None:
    creds = [
        {"credential_id": "rk_live_a", "name": "Stripe key", "days_left": 12},
        {"credential_id": "bank_cert", "name": "Bank", "days_left": None},
        {"credential_id": "gh_pat", "name": "GitHub token", "days_left": -9},
    ]
    chart = chart_specs("credentials", {"credentials": creds}, make_settings())["timeline"]
    assert chart.x_labels == ["gh_pat", "rk_live_a"]  # a credential without a due date has nothing to draw
    assert chart.series[0].values == [-9.0, 12.0] and chart.y_range == (-11, 60)  # overdue shown, stages legible
    assert [s.label for s in chart.series] == [
        "days left",
        "30 d reminder",
        "14 d reminder",
        "7 d reminder",
        "3 d escalation",
    ]


def test_fallback_share_per_window_against_the_limit_with_a_gap_where_nothing_ran() -> None:
    settings = make_settings(rules={"fallback_volume": {"max_fallback_ratio": 0.04}})
    windows = [
        FallbackFigures(30, utc(2026, 1, 1), 0, 0, 0, None),  # before the platform ran: no share at all
        FallbackFigures(30, utc(2026, 1, 31), 2, 500, 10_000, 0.05),
    ]
    chart = fallback_share_chart(windows, settings)
    assert chart.x == [unix(utc(2026, 1, 31)), unix(utc(2026, 3, 2))]  # each window's end
    assert chart.series[0].values == [None, 5.0] and chart.notes == ["no runs", None]
    assert (chart.series[1].label, chart.series[1].values) == ("limit 4%", [4.0, 4.0])
    assert chart.unit == "%" and chart.y_label == "% of automated CAD"


def test_text_from_data_cannot_end_the_json_block() -> None:
    chart = Chart(
        title="</script><script>alert(1)</script>",
        x=[0.0],
        x_kind="category",
        x_label="account",
        y_label="CAD",
        unit="CAD",
        timezone="America/Toronto",
        series=[Series("b", [1.0])],
        x_labels=["</script>&<b>"],
    )
    html = str(figure(chart))
    assert html.count("</script>") == 1 and "<b>" not in html
    block = re.search(r'<script type="application/json" class="pw-chart-data">(.*)</script>', html)
    assert block is not None and json.loads(block.group(1))["x_labels"] == ["</script>&<b>"]
    assert json.loads(data_block(chart))["title"] == chart.title
