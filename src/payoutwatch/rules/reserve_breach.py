"""``reserve_breach``: an account below its threshold now, or projected below it at the next run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from sqlalchemy import Connection

from payoutwatch.config import ReserveBreachSettings, Settings
from payoutwatch.metrics.reserves import Projection, projected_breaches
from payoutwatch.money import format_cents
from payoutwatch.rules.registry import PrometheusAlert, RuleBase, register
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import Finding, RuleId


def findings(projections: list[Projection], rule: ReserveBreachSettings, zone: tzinfo = UTC) -> list[Finding]:
    out = []
    key_prefix = f"{RuleId.RESERVE_BREACH}:"
    next_runs: dict[datetime | None, str] = {}  # every projection shares the next run: its text once
    for p in projections:
        threshold = format_cents(p.threshold_cents)
        if p.balance_cents < p.threshold_cents:
            reason = f"balance {format_cents(p.balance_cents)} is below the threshold {threshold}"
        else:
            next_run = next_runs.get(p.projected_at)
            if next_run is None:
                next_run = next_runs[p.projected_at] = local(p.projected_at, zone, minutes=True)
            reason = (
                f"projected {format_cents(p.projected_balance_cents)} at the next run {next_run}, "
                f"below the threshold {threshold}"
            )
        details = p.as_json()
        details["reasons"] = [reason]
        out.append(
            Finding(
                rule=RuleId.RESERVE_BREACH,
                key=key_prefix + p.account_id,
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Reserve {p.account_id}: {reason}",
                details=details,
            )
        )
    return out


class ReserveBreach(RuleBase):
    id = RuleId.RESERVE_BREACH
    settings_model = ReserveBreachSettings
    fact_labels: Mapping[str, str] = {
        "account_id": "Account",
        "balance_cents": "Balance",
        "threshold_cents": "Threshold",
        "projected_balance_cents": "Projected balance",
        "projected_at": "Projected at",
    }

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        return findings(projected_breaches(conn, at, settings), settings.rules.reserve_breach, settings.display_tz)

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        rule = settings.rules.reserve_breach
        return [
            PrometheusAlert(
                "PayoutReserveBreach",
                "payoutwatch_reserve_projected_breaches > 0",
                rule.severity,
                rule.owner,
                "{{ $value }} reserve accounts are below, or projected below, their threshold",
            )
        ]


RULE = register(ReserveBreach())
