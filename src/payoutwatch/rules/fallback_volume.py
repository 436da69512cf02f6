"""``fallback_volume``: too many manual payouts, or too much CAD routed around automation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import IntEnum

from sqlalchemy import Connection

from payoutwatch.config import FallbackVolumeSettings, Settings
from payoutwatch.metrics.fallback_activity import FallbackFigures, fallback_figures
from payoutwatch.money import format_cents
from payoutwatch.rules.registry import Limit, PrometheusAlert, RuleBase, register
from payoutwatch.vocabulary import Finding, RuleId

KEY = str(RuleId.FALLBACK_VOLUME)


class ReasonKind(IntEnum):
    """Most serious first: money paid only by hand, then a share of money over the limit, then a count."""

    NO_AUTOMATED = 1
    RATIO = 2
    COUNT = 3


def findings(figures: FallbackFigures, rule: FallbackVolumeSettings) -> list[Finding]:
    count, fallback, ratio = figures.manual_payout_count, figures.fallback_cents, figures.fallback_ratio
    found: list[tuple[ReasonKind, str]] = []
    if count > rule.max_manual_payouts:
        found.append(
            (
                ReasonKind.COUNT,
                f"{count} manual payouts in {figures.window_days} days (limit {rule.max_manual_payouts})",
            )
        )
    if ratio is not None and ratio > rule.max_fallback_ratio:
        found.append(
            (ReasonKind.RATIO, f"fallback is {ratio:.2%} of automated volume (limit {rule.max_fallback_ratio:.2%})")
        )
    elif ratio is None and fallback > 0:
        found.append(
            (ReasonKind.NO_AUTOMATED, f"{format_cents(fallback)} paid manually with no automated volume in the window")
        )
    if not found:
        return []
    reasons = [reason for _, reason in sorted(found)]
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
                "automated_cents": figures.automated_cents,
                "fallback_ratio": ratio,
                "window_days": figures.window_days,
                "max_manual_payouts": rule.max_manual_payouts,
                "max_fallback_ratio": rule.max_fallback_ratio,
            },
        )
    ]


class FallbackVolume(RuleBase):
    id = RuleId.FALLBACK_VOLUME
    settings_model = FallbackVolumeSettings
    fact_labels: Mapping[str, str] = {
        "manual_payout_count": "Manual payouts in window",
        "fallback_cents": "Fallback CAD",
        "automated_cents": "Automated CAD",
        "fallback_ratio": "Fallback ratio",
    }
    fact_limits: Mapping[str, Limit] = {
        "manual_payout_count": Limit("limit", "max_manual_payouts"),
        "fallback_ratio": Limit("limit", "max_fallback_ratio"),
    }

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        return findings(fallback_figures(conn, at, settings), settings.rules.fallback_volume)

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        rule = settings.rules.fallback_volume
        return [
            PrometheusAlert(
                "PayoutFallbackVolume",
                f"payoutwatch_manual_payouts_window > {rule.max_manual_payouts} "
                f"or payoutwatch_fallback_ratio > {rule.max_fallback_ratio}",
                rule.severity,
                rule.owner,
                "Manual fallback payouts are above the limit ({{ $value }})",
            )
        ]


RULE = register(FallbackVolume())
