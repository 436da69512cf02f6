"""``fallback_volume``: too many manual payouts, or too much CAD routed around automation."""

from __future__ import annotations

from typing import Any

from payoutwatch.config import FallbackVolumeSettings
from payoutwatch.money import format_cents
from payoutwatch.rules.findings import Finding, RuleId

KEY = "fallback_volume"


def findings(figures: dict[str, Any], rule: FallbackVolumeSettings) -> list[Finding]:
    count = figures["manual_payout_count"]
    fallback, automated, ratio = (
        figures["fallback_cents"],
        figures["automated_cents"],
        figures["fallback_ratio"],
    )
    reasons = []
    if count > rule.max_manual_payouts:
        reasons.append(f"{count} manual payouts in {figures['window_days']} days (limit {rule.max_manual_payouts})")
    if ratio is not None and ratio > rule.max_fallback_ratio:
        reasons.append(f"fallback is {ratio:.2%} of automated volume (limit {rule.max_fallback_ratio:.2%})")
    elif ratio is None and fallback > 0:
        reasons.append(f"{format_cents(fallback)} paid manually with no automated volume in the window")
    if not reasons:
        return []
    return [
        Finding(
            rule=RuleId.FALLBACK_VOLUME,
            key=KEY,
            severity=rule.severity,
            owner=rule.owner,
            summary="Manual fallback payouts are above the limit: " + "; ".join(reasons),
            details={
                "reasons": reasons,
                "manual_payout_count": count,
                "fallback_cents": fallback,
                "automated_cents": automated,
                "fallback_ratio": ratio,
                "window_days": figures["window_days"],
            },
        )
    ]
