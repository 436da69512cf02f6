"""A Finding: what a rule says is wrong at an instant, under a stable alert key."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RuleId(StrEnum):
    AUTOMATION_FAILURE = "automation_failure"
    FALLBACK_VOLUME = "fallback_volume"
    CREDENTIAL_EXPIRY = "credential_expiry"
    RESERVE_BREACH = "reserve_breach"
    SOURCE_STALE = "source_stale"
    NOTIFICATION_FAILING = "notification_failing"


@dataclass(frozen=True)
class Finding:
    rule: RuleId
    key: str
    severity: str
    owner: str
    summary: str
    stage: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
