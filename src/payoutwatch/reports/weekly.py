"""The weekly stand-up snapshot: short enough for fifteen minutes.

Last and next run, this cycle's CAD against the one before, open alerts with age, owner and
acknowledgement, 30-day fallback figures, reserves near threshold and held payouts, and
credentials due within 30 days. Figures are the dashboards' own, at the same instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.store.tables import alerts
from payoutwatch.vocabulary import AlertState, CredentialStage, RuleId

NEAR_SHOWN = 10


def open_alerts(conn: Connection, at: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(alerts)
        .where(alerts.c.state == AlertState.FIRING.value, alerts.c.started_at <= at)
        .order_by(alerts.c.severity, alerts.c.started_at)
    ).all()
    return [
        {
            "key": r.key,
            "rule": r.rule,
            "stage": r.stage,
            "severity": r.severity,
            "owner": r.owner,
            "summary": r.summary,
            "started_at": iso(r.started_at),
            "age_s": (at - r.started_at).total_seconds(),
            "acked_by": r.acked_by,
            "acked_at": iso(r.acked_at),
        }
        for r in rows
    ]


def weekly(conn: Connection, at: datetime, settings: Settings, *, with_credentials: bool = True) -> dict[str, Any]:
    """The snapshot. ``with_credentials=False`` (for a reader whose role may not see credentials, DESIGN §10)
    leaves out the credentials section and the credential alerts: ``credentials_due`` is None,
    ``credentials_withheld`` is true and ``alerts_withheld`` counts the alerts left out."""
    health = compute("payout_health", conn, at, settings)
    fallback = compute("fallback_activity", conn, at, settings)
    reserves = compute("reserves", conn, at, settings)
    alerts_open = open_alerts(conn, at)
    shown = alerts_open if with_credentials else [a for a in alerts_open if a["rule"] != RuleId.CREDENTIAL_EXPIRY]
    due = None
    if with_credentials:
        due = [c for c in compute("credentials", conn, at, settings)["credentials"] if c["stage"] != CredentialStage.OK]
    return {
        "report": "weekly",
        "at": iso(at),
        "timezone": settings.timezone,
        "payout_health": {
            k: health[k]
            for k in (
                "next_run_at",
                "last_run",
                "current_cycle_scheduled_for",
                "current_cycle_cad_cents",
                "prior_cycle_cad_cents",
                "cycle_change_pct",
            )
        },
        "open_alerts": shown,
        "alerts_withheld": len(alerts_open) - len(shown),
        "fallback": {
            k: fallback[k]
            for k in (
                "window_days",
                "manual_payout_count",
                "fallback_cents",
                "automated_cents",
                "fallback_ratio",
                "detection_to_completion",
            )
        },
        "reserves": {
            "aggregate_balance_cents": reserves["aggregate_balance_cents"],
            "near_threshold_count": len(reserves["near_threshold"]),
            "near_threshold": reserves["near_threshold"][:NEAR_SHOWN],
            "held_payouts": reserves["held_payouts"],
            "projected_breaches": len(reserves["projected_breaches"]),
        },
        "credentials_due": due,
        "credentials_withheld": not with_credentials,
    }
