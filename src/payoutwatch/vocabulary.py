"""The words of payoutwatch, defined once: rule ids, states, events, actions, severities, stages,
roles and permissions, the Finding and Transition types, and the dashboard registry.

This module is the bottom of the package: it imports nothing from payoutwatch, and every other
module takes its words from here instead of repeating them as string literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

_RULE_NAME = re.compile(r"[a-z][a-z0-9_]*")


class RuleId(StrEnum):
    """A rule's id. Open: a plug-in rule mints its own with ``RuleId("my_rule")``."""

    AUTOMATION_FAILURE = "automation_failure"
    FALLBACK_VOLUME = "fallback_volume"
    CREDENTIAL_EXPIRY = "credential_expiry"
    RESERVE_BREACH = "reserve_breach"
    SOURCE_STALE = "source_stale"
    NOTIFICATION_FAILING = "notification_failing"

    @classmethod
    def _missing_(cls, value: object) -> RuleId | None:
        if not isinstance(value, str) or not _RULE_NAME.fullmatch(value):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Event(StrEnum):
    """What a notification says happened (DESIGN §6)."""

    FIRING = "firing"
    RESOLVED = "resolved"
    REMINDER = "reminder"
    ESCALATED = "escalated"


class Action(StrEnum):
    """What the alert history records."""

    FIRED = "fired"
    STAGE_CHANGED = "stage_changed"
    RESOLVED = "resolved"
    RESOLVED_BY_PERSON = "resolved_by_person"
    ACKNOWLEDGED = "acknowledged"
    HELD = "held_after_person_resolve"
    FINDING_CLEARED = "finding_cleared"


class AlertAction(StrEnum):
    """What a person does to a firing alert."""

    ACK = "ack"
    RESOLVE = "resolve"


class PersonAction(StrEnum):
    """What the audit log records a person (or a process acting for one) did."""

    ACK = "ack"
    RESOLVE = "resolve"
    SILENCE_ADD = "silence_add"
    SILENCE_EXPIRE = "silence_expire"
    REVIEW = "review"
    RECONCILIATION_SIGN_OFF = "reconciliation_sign_off"
    ACCESS_REVIEW = "access_review"
    TOKEN_CREATE = "token_create"
    TOKEN_REVOKE = "token_revoke"
    INGEST = "ingest"
    STRIPE_WEBHOOK_REFUSED = "stripe_webhook_refused"


class NotificationState(StrEnum):
    """One outbox row: ``pending`` → ``sent`` | ``failed``; ``suppressed`` by a silence."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PayoutStatus(StrEnum):
    """A scheduled payout's status (DESIGN §3)."""

    SCHEDULED = "scheduled"
    PAID = "paid"
    FAILED = "failed"
    HELD = "held"
    CANCELLED = "cancelled"


class Severity(StrEnum):
    SEV_1 = "SEV-1"
    SEV_2 = "SEV-2"
    SEV_3 = "SEV-3"
    SEV_4 = "SEV-4"


SEVERITIES = tuple(s.value for s in Severity)


class CredentialStage(StrEnum):
    """The fixed ends of a credential's stages; the ones between are ``days_stage(n)`` (``30d``…)."""

    OK = "ok"
    EXPIRED = "expired"


def days_stage(days: int) -> str:
    """The stage reached ``days`` days before a credential is due: ``days_stage(14) == "14d"``."""
    return f"{days}d"


class Role(StrEnum):
    VIEWER = "viewer"
    OPS = "ops"
    FINANCE = "finance"
    ENGINEERING = "engineering"
    SECURITY = "security"
    ADMIN = "admin"
    INGEST = "ingest"
    METRICS = "metrics"  # a scraper (Prometheus): /metrics only


class Permission(StrEnum):
    VIEW = "view"  # dashboards, alerts, notifications (every role but ingest and metrics)
    VIEW_CREDENTIALS = "view_credentials"  # credential names, owners, due dates, alerts: on every surface
    HANDLE_ALERTS = "handle_alerts"  # ack, resolve, silence ANY alert (team roles: their own, web.role_owners)
    WRITE_RECORDS = "write_records"  # ingest, pings
    SCRAPE_METRICS = "scrape_metrics"  # /metrics when web.metrics_auth is on
    SIGN_OFF = "sign_off"  # Finance's reconciliation sign-off of a cycle
    REVIEW_ACCESS = "review_access"  # the access review: API tokens, SSO users and who holds which role


@dataclass(frozen=True)
class Finding:
    """What a rule says is wrong at an instant, under a stable alert key."""

    rule: RuleId
    key: str
    severity: str
    owner: str
    summary: str
    stage: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """One recorded change of an alert (fired, restaged, resolved) and the event it sends, if any."""

    alert_id: int
    history_id: int
    key: str
    rule: RuleId
    action: Action
    event: Event | None
    stage: str | None
    severity: str
    owner: str
    summary: str
    details: dict[str, Any]
    episode: str
    at: datetime
    started_at: datetime
    actor: str | None = None


@dataclass(frozen=True)
class Dashboard:
    """A dashboard's name (DESIGN §4, pinned), its one title, and the permission needed to see it."""

    name: str
    title: str
    permission: Permission = Permission.VIEW


DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard("payout_health", "Payout Health"),
    Dashboard("fallback_activity", "Fallback Activity"),
    Dashboard("reserves", "Reserves & Balances"),
    Dashboard("credentials", "Credential Expiry", Permission.VIEW_CREDENTIALS),
)
DASHBOARD_NAMES: tuple[str, ...] = tuple(d.name for d in DASHBOARDS)


def dashboard_named(name: str) -> Dashboard:
    """The registered dashboard called ``name`` (raises KeyError for an unknown name)."""
    for dashboard in DASHBOARDS:
        if dashboard.name == name:
            return dashboard
    raise KeyError(name)
