"""Exports for teams that live in Prometheus and Grafana: alerting rules and a dashboard over ``/metrics``.

The alerting rules mirror each registered rule (``Rule.prometheus_alerts``) with the configured thresholds
(the projection and the cycle logic stay in payoutwatch: those rules read its ``payoutwatch_alerts_firing``
and figures).
"""

from __future__ import annotations

from typing import Any

from payoutwatch.config import Settings
from payoutwatch.rules.registry import PrometheusAlert, rules
from payoutwatch.vocabulary import RuleId, Severity, dashboard_named

SEVERITY: dict[str, str] = {
    Severity.SEV_1: "critical",
    Severity.SEV_2: "error",
    Severity.SEV_3: "warning",
    Severity.SEV_4: "info",
}


def prometheus_rules(settings: Settings) -> dict[str, Any]:
    """One alerting group: every registered rule's Prometheus mirror, in registry order."""
    return {
        "groups": [
            {
                "name": "payoutwatch",
                "interval": "1m",
                "rules": [
                    _alerting_rule(alert, rule.id) for rule in rules() for alert in rule.prometheus_alerts(settings)
                ],
            }
        ]
    }


def _alerting_rule(alert: PrometheusAlert, rule_id: RuleId) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": "0m",
        "labels": {
            "severity": SEVERITY.get(alert.severity, "warning"),
            "payoutwatch_rule": rule_id.value,
            "owner": alert.owner,
        },
        "annotations": {"summary": alert.summary},
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
            dashboard_named("payout_health").title,
            [
                ("Next run", "payoutwatch_next_run_timestamp_seconds * 1000", "dateTimeFromNow", "stat", ""),
                ("Last run duration", "payoutwatch_last_run_duration_seconds", "s", "stat", ""),
                ("Processed ratio", "payoutwatch_last_run_processed_ratio", "percentunit", "stat", ""),
                ("CAD per cycle", "payoutwatch_cycle_processed_cents / 100", "currencyCAD", "bargauge", "{{cycle}}"),
            ],
        ),
        (
            dashboard_named("fallback_activity").title,
            [
                ("Manual payouts, 30 days", "payoutwatch_manual_payouts_window", "short", "stat", ""),
                ("Fallback / automated", "payoutwatch_fallback_ratio", "percentunit", "timeseries", ""),
            ],
        ),
        (
            dashboard_named("reserves").title,
            [
                ("Aggregate reserve", "payoutwatch_reserve_aggregate_balance_cents / 100", "currencyCAD", "stat", ""),
                ("Near threshold", "payoutwatch_reserve_accounts_near_threshold", "short", "stat", ""),
                ("Held by reserve caps", "payoutwatch_held_payouts_cents / 100", "currencyCAD", "stat", ""),
            ],
        ),
        (
            dashboard_named("credentials").title,
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
