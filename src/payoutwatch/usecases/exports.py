"""Exports for teams that live in Prometheus and Grafana: alerting rules and a dashboard over ``/metrics``.

The rules mirror payoutwatch's four rules with the configured thresholds (the projection and the
cycle logic stay in payoutwatch: those rules read its ``payoutwatch_alerts_firing`` and figures).
"""

from __future__ import annotations

from typing import Any

from payoutwatch.config import Settings

SEVERITY = {"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning", "SEV-4": "info"}


def prometheus_rules(settings: Settings) -> dict[str, Any]:
    r = settings.rules
    af, fv, ce, rb = r.automation_failure, r.fallback_volume, r.credential_expiry, r.reserve_breach

    def rule(name: str, expr: str, rule_id: str, severity: str, owner: str, summary: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": "0m",
            "labels": {"severity": SEVERITY.get(severity, "warning"), "payoutwatch_rule": rule_id, "owner": owner},
            "annotations": {"summary": summary},
        }

    return {
        "groups": [
            {
                "name": "payoutwatch",
                "interval": "1m",
                "rules": [
                    rule(
                        "PayoutAutomationFailure",
                        f'payoutwatch_alerts_firing{{rule="automation_failure"}} > 0 '
                        f"or payoutwatch_last_run_duration_seconds > {int(af.max_duration_minutes * 60)} "
                        f"or payoutwatch_last_run_processed_ratio < {af.min_processed_ratio}",
                        "automation_failure",
                        af.severity,
                        af.owner,
                        "The payout run failed, is slow, missed its slot or processed too few studios",
                    ),
                    rule(
                        "PayoutFallbackVolume",
                        f"payoutwatch_manual_payouts_window > {fv.max_manual_payouts} "
                        f"or payoutwatch_fallback_ratio > {fv.max_fallback_ratio}",
                        "fallback_volume",
                        fv.severity,
                        fv.owner,
                        "Manual fallback payouts are above the limit ({{ $value }})",
                    ),
                    rule(
                        "PayoutCredentialExpiring",
                        f"payoutwatch_credential_days_left <= {max(ce.reminder_days)}",
                        "credential_expiry",
                        "SEV-3",
                        ce.owner,
                        "Credential {{ $labels.credential_id }} ({{ $labels.kind }}) is due in {{ $value }} days",
                    ),
                    rule(
                        "PayoutCredentialEscalation",
                        f"payoutwatch_credential_days_left <= {ce.escalate_days}",
                        "credential_expiry",
                        ce.severity,
                        ce.owner,
                        "Credential {{ $labels.credential_id }} is due in {{ $value }} days: rotate it now",
                    ),
                    rule(
                        "PayoutReserveBreach",
                        "payoutwatch_reserve_projected_breaches > 0",
                        "reserve_breach",
                        rb.severity,
                        rb.owner,
                        "{{ $value }} reserve accounts are below, or projected below, their threshold",
                    ),
                ],
            }
        ]
    }


def _panel(
    panel_id: int, title: str, expr: str, unit: str, *, x: int, y: int, kind: str = "stat", legend: str = ""
) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "gridPos": {"h": 6, "w": 8, "x": x, "y": y},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": "A",
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            }
        ],
    }


def grafana_dashboard(settings: Settings) -> dict[str, Any]:
    rows = [
        (
            "Payout Health",
            [
                ("Next run", "payoutwatch_next_run_timestamp_seconds * 1000", "dateTimeFromNow", "stat", ""),
                ("Last run duration", "payoutwatch_last_run_duration_seconds", "s", "stat", ""),
                ("Processed ratio", "payoutwatch_last_run_processed_ratio", "percentunit", "stat", ""),
                ("CAD per cycle", "payoutwatch_cycle_processed_cents / 100", "currencyCAD", "bargauge", "{{cycle}}"),
            ],
        ),
        (
            "Fallback Activity",
            [
                ("Manual payouts, 30 days", "payoutwatch_manual_payouts_window", "short", "stat", ""),
                ("Fallback / automated", "payoutwatch_fallback_ratio", "percentunit", "timeseries", ""),
            ],
        ),
        (
            "Reserves & Balances",
            [
                ("Aggregate reserve", "payoutwatch_reserve_aggregate_balance_cents / 100", "currencyCAD", "stat", ""),
                ("Near threshold", "payoutwatch_reserve_accounts_near_threshold", "short", "stat", ""),
                ("Held by reserve caps", "payoutwatch_held_payouts_cents / 100", "currencyCAD", "stat", ""),
            ],
        ),
        (
            "Credential Expiry",
            [
                ("Days left", "sort(payoutwatch_credential_days_left)", "d", "bargauge", "{{credential_id}}"),
                ("Firing alerts", "payoutwatch_alerts_firing", "short", "bargauge", "{{rule}}"),
                ("Outbox pending", "payoutwatch_notifications_pending", "short", "stat", ""),
            ],
        ),
    ]
    panels: list[dict[str, Any]] = []
    y = 0
    for title, figures in rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for i, (name, expr, unit, kind, legend) in enumerate(figures):
            panels.append(
                _panel(len(panels) + 1, name, expr, unit, x=(i % 3) * 8, y=y + (i // 3) * 6, kind=kind, legend=legend)
            )
        y += 6 * ((len(figures) + 2) // 3)
    return {
        "title": "payoutwatch",
        "uid": "payoutwatch",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "timezone": settings.timezone,
        "refresh": "1m",
        "time": {"from": "now-30d", "to": "now"},
        "tags": ["payouts", "payoutwatch"],
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "panels": panels,
    }
