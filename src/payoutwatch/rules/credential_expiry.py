"""``credential_expiry``: one alert per credential due within the first reminder day.

The stage is the current one only; a credential first seen at 10 days is at ``14d``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo

from sqlalchemy import Connection

from payoutwatch.clock import iso
from payoutwatch.config import CredentialExpirySettings, Settings
from payoutwatch.metrics.credentials import CredentialFigures, escalation_stages, in_force, reminder_stages
from payoutwatch.rules.registry import PrometheusAlert, RuleBase, Stage, register
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import CredentialStage, Event, Finding, RuleId


def findings(credentials: list[CredentialFigures], rule: CredentialExpirySettings, zone: tzinfo = UTC) -> list[Finding]:
    out = []
    for cred in credentials:
        if cred.stage == CredentialStage.OK or cred.due_at is None or cred.days_left is None:
            continue
        when = "is overdue" if cred.days_left < 0 else f"is due in {cred.days_left} days"
        out.append(
            Finding(
                rule=RuleId.CREDENTIAL_EXPIRY,
                key=f"{RuleId.CREDENTIAL_EXPIRY}:{cred.credential_id}",
                severity=rule.severity,
                owner=cred.owner or rule.owner,
                stage=cred.stage,
                summary=f"{cred.name} ({cred.kind}) {when} ({local(cred.due_at, zone)})",
                details={
                    "credential_id": cred.credential_id,
                    "kind": cred.kind,
                    "name": cred.name,
                    "due_at": iso(cred.due_at),
                    "days_left": cred.days_left,
                    "age_days": cred.age_days,
                    "reasons": [f"due {local(cred.due_at, zone)}, {cred.days_left} days left (stage {cred.stage})"],
                },
            )
        )
    return out


class CredentialExpiry(RuleBase):
    """Reminders at each reminder day, escalation at ``escalate_days`` and when overdue."""

    id = RuleId.CREDENTIAL_EXPIRY
    settings_model = CredentialExpirySettings
    fact_labels: Mapping[str, str] = {
        "credential_id": "Credential",
        "kind": "Kind",
        "due_at": "Due",
        "days_left": "Days left",
    }

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        return findings(in_force(conn, at, settings), settings.rules.credential_expiry, settings.display_tz)

    def stages(self, settings: Settings) -> Sequence[Stage]:
        rule = settings.rules.credential_expiry
        return [Stage(name, Event.REMINDER) for name in reminder_stages(rule)] + [
            Stage(name, Event.ESCALATED) for name in escalation_stages(rule)
        ]

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        rule = settings.rules.credential_expiry
        return [
            PrometheusAlert(
                "PayoutCredentialExpiring",
                f"payoutwatch_credential_days_left <= {max(rule.reminder_days)}",
                "SEV-3",
                rule.owner,
                "Credential {{ $labels.credential_id }} ({{ $labels.kind }}) is due in {{ $value }} days",
            ),
            PrometheusAlert(
                "PayoutCredentialEscalation",
                f"payoutwatch_credential_days_left <= {rule.escalate_days}",
                rule.severity,
                rule.owner,
                "Credential {{ $labels.credential_id }} is due in {{ $value }} days: rotate it now",
            ),
        ]


RULE = register(CredentialExpiry())
