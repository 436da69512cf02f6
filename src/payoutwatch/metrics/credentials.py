"""Credential Expiry: the version of each credential in force at ``at``, its due date and stage.

Due date: ``expires_at``, else ``rotate_by``, else ``created_at`` + the kind's maximum age.
Stages: ``ok``, one per reminder day (``30d``, ``14d``, ``7d``), ``3d`` (escalation), ``expired``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, select

from payoutwatch.clock import iso
from payoutwatch.config import CredentialExpirySettings, Settings
from payoutwatch.metrics.common import days_floor
from payoutwatch.store.tables import credentials
from payoutwatch.vocabulary import CredentialStage, days_stage


def stage_for(days_left: int | None, rule: CredentialExpirySettings) -> str:
    return _Stages(rule).stage(days_left)


class _Stages:
    """A rule's stages by days left, worked out once for every credential judged by it."""

    def __init__(self, rule: CredentialExpirySettings) -> None:
        self.ok, self.expired = CredentialStage.OK.value, CredentialStage.EXPIRED.value
        self.escalate_days, self.escalate = rule.escalate_days, days_stage(rule.escalate_days)
        self.reminders = [(day, days_stage(day)) for day in sorted(rule.reminder_days)]

    def stage(self, days_left: int | None) -> str:
        if days_left is None:
            return self.ok
        if days_left < 0:
            return self.expired
        if days_left <= self.escalate_days:
            return self.escalate
        for day, stage in self.reminders:
            if days_left <= day:
                return stage
        return self.ok


def reminder_stages(rule: CredentialExpirySettings) -> tuple[str, ...]:
    """The reminder stages, least urgent first: ``30d``, ``14d``, ``7d``."""
    return tuple(days_stage(d) for d in sorted(rule.reminder_days, reverse=True))


def escalation_stages(rule: CredentialExpirySettings) -> tuple[str, ...]:
    return (days_stage(rule.escalate_days), CredentialStage.EXPIRED.value)


class CredentialFigures(NamedTuple):  # a tuple: one is built per credential on every dashboard and evaluation
    credential_id: str
    kind: str
    name: str
    owner: str | None
    created_at: datetime
    due_at: datetime | None
    days_left: int | None
    age_days: int
    stage: str
    fingerprint: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "credential_id": self.credential_id,
            "kind": self.kind,
            "name": self.name,
            "owner": self.owner,
            "created_at": iso(self.created_at),
            "due_at": iso(self.due_at),
            "days_left": self.days_left,
            "age_days": self.age_days,
            "stage": self.stage,
            "fingerprint": self.fingerprint,
        }


def due_date(row: Any, settings: Settings) -> datetime | None:
    """A version's due date: ``expires_at``, else ``rotate_by``, else created + its kind's maximum age."""
    due: datetime | None = row.expires_at or row.rotate_by
    if due is None and row.kind in settings.credentials.max_age_days:
        due = row.created_at + timedelta(days=settings.credentials.max_age_days[row.kind])
    return due


def versions(conn: Connection, credential_id: str, at: datetime, settings: Settings) -> list[dict[str, Any]]:
    """Every version of a credential created at or before ``at``, newest first: its due date, how long
    it was in force (until the next version, or ``at``) and whether it was replaced before it fell due."""
    c = credentials.c
    rows = conn.execute(
        select(credentials).where(c.credential_id == credential_id, c.created_at <= at).order_by(c.created_at)
    ).all()
    out = []
    for i, row in enumerate(rows):
        replaced_at = rows[i + 1].created_at if i + 1 < len(rows) else None
        due = due_date(row, settings)
        out.append(
            {
                "credential_id": row.credential_id,
                "created_at": iso(row.created_at),
                "kind": row.kind,
                "name": row.name,
                "owner": row.owner,
                "expires_at": iso(row.expires_at),
                "rotate_by": iso(row.rotate_by),
                "due_at": iso(due),
                "source": row.source,
                "fingerprint": row.fingerprint,
                "replaced_at": iso(replaced_at),
                "in_force_days": days_floor((replaced_at or at) - row.created_at),
                "replaced_late": replaced_at is not None and due is not None and replaced_at > due,
                "in_force": replaced_at is None,
            }
        )
    out.reverse()
    return out


_c = credentials.c
_NEWEST = (
    select(_c.credential_id, func.max(_c.created_at).label("created_at"))
    .where(_c.created_at <= bindparam("at"))
    .group_by(_c.credential_id)
    .subquery()
)
# built once: the version of each credential in force at ``at`` (only the columns the figures read)
_IN_FORCE = select(
    _c.credential_id,
    _c.kind,
    _c.name,
    _c.owner,
    _c.created_at,
    func.coalesce(_c.expires_at, _c.rotate_by),  # the due date unless it comes from the kind's maximum age
    _c.fingerprint,
).join(_NEWEST, and_(_c.credential_id == _NEWEST.c.credential_id, _c.created_at == _NEWEST.c.created_at))


def in_force(conn: Connection, at: datetime, settings: Settings) -> list[CredentialFigures]:
    stage = _Stages(settings.rules.credential_expiry).stage
    max_age = {kind: timedelta(days=days) for kind, days in settings.credentials.max_age_days.items()}
    out = []
    for credential_id, kind, name, owner, created_at, due, fingerprint in conn.execute(_IN_FORCE, {"at": at}).all():
        if due is None and kind in max_age:  # as ``due_date``
            due = created_at + max_age[kind]
        days_left = days_floor(due - at) if due is not None else None
        out.append(
            CredentialFigures(
                credential_id,
                kind,
                name,
                owner,
                created_at,
                due,
                days_left,
                days_floor(at - created_at),
                stage(days_left),
                fingerprint,
            )
        )
    far = datetime.max.replace(tzinfo=at.tzinfo)
    out.sort(key=lambda f: (f.due_at or far, f.credential_id))
    return out


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    figures = in_force(conn, at, settings)
    by_stage: dict[str, int] = {}
    for f in figures:
        by_stage[f.stage] = by_stage.get(f.stage, 0) + 1
    return {"at": iso(at), "credentials": [f.as_json() for f in figures], "by_stage": by_stage}
