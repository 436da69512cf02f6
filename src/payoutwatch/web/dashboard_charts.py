"""Which charts each dashboard page shows, built from the dashboard's figures and the configured thresholds.

Dates are drawn in the display zone (``Settings.display_tz``). Cycle charts have one slot per scheduled
cycle over the last ``CYCLES_CHARTED`` cycles plus the next run: a cycle without a run, and the next run
(it has not happened), are gaps (None), never 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.fallback_activity import FallbackFigures, fallback_figures
from payoutwatch.schedule import schedule_of
from payoutwatch.timefmt import zone_name
from payoutwatch.web.charts import (
    ACCENT,
    LIMIT,
    WARN,
    Chart,
    Marker,
    Series,
    by_category,
    figure,
    threshold,
    unix,
)

CYCLES_CHARTED = 13
NEAR_CHARTED = 20
FALLBACK_WINDOWS = 6


def dashboard_charts(name: str, figures: dict[str, Any], settings: Settings, conn: Connection) -> dict[str, Markup]:
    """The charts of one dashboard page, by the name its template places them under. The fallback page also
    charts the windows before the current one (read here: the dashboard's figures have only the current)."""
    charts = chart_specs(name, figures, settings)
    if name == "fallback_activity":
        at = datetime.fromisoformat(figures["at"].replace("Z", "+00:00"))
        charts["share"] = fallback_share_chart(fallback_windows(conn, at, settings), settings)
    return {key: figure(chart) for key, chart in charts.items()}


def chart_specs(name: str, figures: dict[str, Any], settings: Settings) -> dict[str, Chart]:
    if name == "payout_health":
        return payout_health_charts(figures, settings)
    if name == "fallback_activity":
        return {"distribution": fallback_distribution(figures, settings)}
    if name == "credentials":
        return {"timeline": credentials_chart(figures, settings)}
    if name == "reserves":
        return reserves_charts(figures, settings)
    return {}


def cycle_slots(figures: dict[str, Any], settings: Settings) -> tuple[list[datetime], list[str | None]]:
    """The cycles charted, oldest first, and a note per slot where it is a gap: ``no run`` or ``next run``."""
    at = datetime.fromisoformat(figures["at"].replace("Z", "+00:00"))
    schedule = schedule_of(settings)
    with_runs = {r["scheduled_for"] for r in figures["cycles"][:CYCLES_CHARTED]}
    scheduled = schedule.latest_at_or_before(at, CYCLES_CHARTED)
    slots = sorted(set(scheduled) | {datetime.fromisoformat(c.replace("Z", "+00:00")) for c in with_runs})
    slots = slots[-CYCLES_CHARTED:]
    notes: list[str | None] = [None if iso(s) in with_runs else "no run" for s in slots]
    upcoming = schedule.next_after(at)
    if upcoming is not None:
        slots.append(upcoming)
        notes.append("next run")
    return slots, notes


def payout_health_charts(figures: dict[str, Any], settings: Settings) -> dict[str, Chart]:
    slots, notes = cycle_slots(figures, settings)
    rows = {r["scheduled_for"]: r for r in figures["cycles"]}
    rule = settings.rules.automation_failure
    n = len(slots)

    def per_cycle(field: str, scale: float = 1.0) -> list[float | None]:
        out: list[float | None] = []
        for s in slots:
            value = rows[iso(s)][field] if iso(s) in rows else None
            out.append(None if value is None else round(value / scale, 2))
        return out

    def chart(title: str, y_label: str, unit: Any, series: list[Series], height: int = 200) -> Chart:
        return Chart(
            title=title,
            x=[unix(s) for s in slots],
            x_kind="time",
            x_label="cycle",
            y_label=y_label,
            unit=unit,
            timezone=zone_name(settings.display_tz),
            series=series,
            notes=notes,
            height=height,
        )

    return {
        "cad": chart("CAD per cycle", "CAD", "CAD", [Series("CAD paid", per_cycle("cad_processed_cents", 100))], 240),
        "duration": chart(
            "Longest run per cycle",
            "minutes",
            "min",
            [
                Series("longest run", per_cycle("longest_run_s", 60)),
                threshold(f"limit {rule.max_duration_minutes:g} min", rule.max_duration_minutes, n),
            ],
        ),
        "processed": chart(
            "Studios processed per cycle",
            "% of studios",
            "%",
            [
                Series("processed", per_cycle("processed_ratio", 0.01), "line", ACCENT),
                threshold(f"minimum {rule.min_processed_ratio:.0%}", rule.min_processed_ratio * 100, n),
            ],
        ),
        "retries": chart("Retries per cycle", "retries", "count", [Series("retries", per_cycle("retry_count"))]),
        "errors": chart("Errors per cycle", "errors", "count", [Series("errors", per_cycle("error_count"))]),
    }


def fallback_distribution(figures: dict[str, Any], settings: Settings) -> Chart:
    buckets = figures["detection_to_completion"]["histogram_hours"]
    return by_category(
        [b["bucket"] for b in buckets],
        zone_name(settings.display_tz),
        title="Time from detection to completed manual transfer",
        x_label="hours from detection to completed transfer",
        y_label="payouts",
        unit="payouts",
        series=[Series("completed fallbacks", [float(b["count"]) for b in buckets])],
    )


def fallback_windows(
    conn: Connection, at: datetime, settings: Settings, count: int = FALLBACK_WINDOWS
) -> list[FallbackFigures]:
    """The fallback figures of ``count`` consecutive windows (``window_days`` each) ending at ``at``, oldest first."""
    days = settings.rules.fallback_volume.window_days
    return [fallback_figures(conn, at - timedelta(days=days * k), settings) for k in reversed(range(count))]


def fallback_share_chart(windows: list[FallbackFigures], settings: Settings) -> Chart:
    """Each window's fallback CAD as a share of automated CAD against ``max_fallback_ratio``; a window without
    automated volume has no share (a gap)."""
    limit = settings.rules.fallback_volume.max_fallback_ratio
    days = settings.rules.fallback_volume.window_days
    return Chart(
        title=f"Fallback share of automated volume per {days:g}-day window",
        x=[unix(w.since + timedelta(days=days)) for w in windows],
        x_kind="time",
        x_label=f"end of each {days:g}-day window",
        y_label="% of automated CAD",
        unit="%",
        timezone=zone_name(settings.display_tz),
        series=[
            Series(
                "fallback share",
                [None if w.fallback_ratio is None else round(w.fallback_ratio * 100, 2) for w in windows],
            ),
            threshold(f"limit {limit:.0%}", limit * 100, len(windows)),
        ],
        notes=[None if w.fallback_ratio is not None else "no runs" for w in windows],
    )


def credentials_chart(figures: dict[str, Any], settings: Settings) -> Chart:
    """Days left per credential (named by id; the table beside it has the names) against the reminder and
    escalation days; the axis stops at twice the first reminder, so a credential due in a year does not flatten
    the stages (its bar runs off the top, its value is on hover)."""
    due = sorted((c for c in figures["credentials"] if c["days_left"] is not None), key=lambda c: c["days_left"])
    rule = settings.rules.credential_expiry
    n = len(due)
    lowest = min([0, *(c["days_left"] for c in due)])
    lines = [threshold(f"{d} d reminder", float(d), n, WARN) for d in sorted(rule.reminder_days, reverse=True)]
    return by_category(
        [c["credential_id"] for c in due],
        zone_name(settings.display_tz),
        title="Days left before each credential is due",
        x_label="credential",
        y_label="days left",
        unit="days",
        series=[
            Series("days left", [float(c["days_left"]) for c in due]),
            *lines,
            threshold(f"{rule.escalate_days} d escalation", float(rule.escalate_days), n),
        ],
        height=240,
        y_range=(lowest - 2, 2 * max(rule.reminder_days)),
    )


def reserves_charts(figures: dict[str, Any], settings: Settings) -> dict[str, Chart]:
    near = figures["near_threshold"][:NEAR_CHARTED]
    charts = {
        "near": by_category(
            [n["account_id"] for n in near],
            zone_name(settings.display_tz),
            title="Balances inside the buffer, against each account's threshold",
            x_label="account",
            y_label="CAD",
            unit="CAD",
            series=[
                Series("balance", [n["balance_cents"] / 100 for n in near]),
                Series("threshold", [n["threshold_cents"] / 100 for n in near], "points", LIMIT),
            ],
            height=240,
        )
    }
    for p in figures["projected_breaches"]:
        if p.get("history") and p["projected_at"]:
            charts[f"projection:{p['account_id']}"] = projection_chart(p, settings)
    return charts


def projection_chart(p: dict[str, Any], settings: Settings) -> Chart:
    """History, the fitted trend (the least-squares slope through the latest balance, as the projection uses
    it), the account's threshold, and the projected balance at the next run."""
    history = [(unix(h["as_of"]), h["balance_cents"] / 100) for h in p["history"]]
    next_run = unix(p["projected_at"])
    xs = [x for x, _ in history] + [next_run]
    latest_x, latest = unix(p["as_of"]), p["balance_cents"] / 100
    slope = p["slope_cents_per_day"] / 100 / 86400
    return Chart(
        title=f"Reserve projection for {p['account_id']}",
        x=xs,
        x_kind="time",
        x_label="date",
        y_label="CAD",
        unit="CAD",
        timezone=zone_name(settings.display_tz),
        series=[
            Series("balance", [y for _, y in history] + [None], "line", ACCENT),
            Series("trend", [round(latest + slope * (x - latest_x), 2) for x in xs], "trend", ACCENT),
            threshold("threshold", p["threshold_cents"] / 100, len(xs)),
            Series("at the next run", [None] * len(history) + [p["projected_balance_cents"] / 100], "points", LIMIT),
        ],
        markers=[Marker(next_run, "next run")],
        height=200,
    )
