"""``reserve_breach``: an account below its threshold now, or projected below it at the next run."""

from __future__ import annotations

from payoutwatch.clock import iso
from payoutwatch.config import ReserveBreachSettings
from payoutwatch.metrics.reserves import Projection
from payoutwatch.money import format_cents
from payoutwatch.rules.findings import Finding, RuleId


def findings(projections: list[Projection], rule: ReserveBreachSettings) -> list[Finding]:
    out = []
    for p in projections:
        if p.balance_cents < p.threshold_cents:
            reason = f"balance {format_cents(p.balance_cents)} is below the threshold {format_cents(p.threshold_cents)}"
        else:
            reason = (
                f"projected {format_cents(p.projected_balance_cents)} at the next run {iso(p.projected_at)}, "
                f"below the threshold {format_cents(p.threshold_cents)}"
            )
        out.append(
            Finding(
                rule=RuleId.RESERVE_BREACH,
                key=f"reserve_breach:{p.account_id}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Reserve {p.account_id}: {reason}",
                details={**p.as_json(), "reasons": [reason]},
            )
        )
    return out
