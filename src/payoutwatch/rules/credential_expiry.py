"""``credential_expiry``: one alert per credential due within the first reminder day.

The stage is the current one only; a credential first seen at 10 days is at ``14d``.
"""

from __future__ import annotations

from payoutwatch.clock import iso
from payoutwatch.config import CredentialExpirySettings
from payoutwatch.metrics.credentials import OK, CredentialFigures
from payoutwatch.rules.findings import Finding, RuleId


def findings(credentials: list[CredentialFigures], rule: CredentialExpirySettings) -> list[Finding]:
    out = []
    for cred in credentials:
        if cred.stage == OK or cred.due_at is None or cred.days_left is None:
            continue
        when = "is overdue" if cred.days_left < 0 else f"is due in {cred.days_left} days"
        out.append(
            Finding(
                rule=RuleId.CREDENTIAL_EXPIRY,
                key=f"credential_expiry:{cred.credential_id}",
                severity=rule.severity,
                owner=cred.owner or rule.owner,
                stage=cred.stage,
                summary=f"{cred.name} ({cred.kind}) {when} ({iso(cred.due_at)})",
                details={
                    "credential_id": cred.credential_id,
                    "kind": cred.kind,
                    "name": cred.name,
                    "due_at": iso(cred.due_at),
                    "days_left": cred.days_left,
                    "age_days": cred.age_days,
                    "reasons": [f"due {iso(cred.due_at)}, {cred.days_left} days left (stage {cred.stage})"],
                },
            )
        )
    return out
