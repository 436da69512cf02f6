"""Alerts (list, ack, resolve), silences (add, list, expire) and the notifications outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field
from sqlalchemy import select

from payoutwatch.clock import iso
from payoutwatch.notify.outbox import list_notifications as notification_rows
from payoutwatch.notify.silences import Matcher
from payoutwatch.notify.silences import add_silence as store_silence
from payoutwatch.notify.silences import expire_silence as expire
from payoutwatch.notify.silences import list_silences as silence_rows
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import alerts
from payoutwatch.usecases.alert_actions import AlertAction, act_on_alert
from payoutwatch.usecases.alert_queries import alert_json, notification_json, silence_json
from payoutwatch.web.deps import Handler, State, Viewer
from payoutwatch.web.session import Person

router = APIRouter(tags=["alerts"])


class Comment(BaseModel):
    comment: str | None = Field(None, max_length=2000)


class SilenceIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)
    rule: str | None = None
    key: str | None = None
    owner: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    hours: float = Field(2.0, gt=0, le=24 * 90)


@router.get("/api/v1/alerts")
def list_alerts(state: State, who: Viewer, all_alerts: Annotated[bool, Query(alias="all")] = False) -> dict[str, Any]:
    q = select(alerts).order_by(alerts.c.started_at.desc(), alerts.c.id.desc()).limit(1000)
    if not all_alerts:
        q = q.where(alerts.c.state == "firing")
    with state.engine.connect() as conn:
        return {"alerts": [alert_json(r) for r in conn.execute(q)]}


def _act(state: State, key: str, who: Person, body: Comment | None, action: AlertAction) -> dict[str, str]:
    comment = body.comment if body is not None else None
    try:
        act_on_alert(state.engine, state.settings, key, action, actor=who.name, now=state.now(), comment=comment)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return {"key": key, "action": action.value, "by": who.name}


@router.post("/api/v1/alerts/{key}/ack")
def ack(state: State, key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
    return _act(state, key, who, body, AlertAction.ACK)


@router.post("/api/v1/alerts/{key}/resolve")
def resolve(state: State, key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
    return _act(state, key, who, body, AlertAction.RESOLVE)


@router.post("/api/v1/silences", status_code=201)
def add_silence(state: State, body: SilenceIn, who: Handler) -> dict[str, Any]:
    when = state.now()
    starts = body.starts_at or when
    ends = body.ends_at or starts + timedelta(hours=body.hours)
    try:
        with state.engine.begin() as conn:
            silence_id = store_silence(
                conn,
                Matcher(body.rule, body.key, body.owner),
                starts_at=starts,
                ends_at=ends,
                author=who.name,
                comment=body.comment,
                now=when,
            )
            audit(conn, actor=who.name, action="silence_add", target=str(silence_id), now=when)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"id": silence_id, "starts_at": iso(starts), "ends_at": iso(ends)}


@router.get("/api/v1/silences")
def list_silences(
    state: State, who: Viewer, all_silences: Annotated[bool, Query(alias="all")] = False
) -> dict[str, Any]:
    with state.engine.connect() as conn:
        rows = silence_rows(conn, now=state.now(), include_expired=all_silences)
        return {"silences": [silence_json(r) for r in rows]}


@router.delete("/api/v1/silences/{silence_id}")
def expire_silence(
    state: State, silence_id: Annotated[int, FastAPIPath(ge=1, le=2**63 - 1)], who: Handler
) -> dict[str, Any]:
    when = state.now()
    with state.engine.begin() as conn:
        if not expire(conn, silence_id, now=when):
            raise HTTPException(404, f"no active silence {silence_id}")
        audit(conn, actor=who.name, action="silence_expire", target=str(silence_id), now=when)
    return {"id": silence_id, "expired_at": iso(when)}


@router.get("/api/v1/notifications")
def list_notifications(state: State, who: Viewer, failed: bool = False) -> dict[str, Any]:
    with state.engine.connect() as conn:
        return {"notifications": [notification_json(r) for r in notification_rows(conn, failed_only=failed)]}
