"""Alerts (list, ack, resolve), silences (add, list, expire) and the notifications outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field

from payoutwatch.clock import iso
from payoutwatch.notify.silences import Matcher
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.usecases import alert_actions, alert_queries
from payoutwatch.usecases.alert_actions import (
    MAX_COMMENT_CHARS,
    MAX_SILENCE,
    SilenceNotFound,
    SilenceRejected,
    act_on_alert,
)
from payoutwatch.usecases.alert_queries import AlertFilter
from payoutwatch.vocabulary import AlertAction
from payoutwatch.web import access
from payoutwatch.web.deps import ActionRefused, Handler, State, Viewer, check_alert, check_ending, check_silence
from payoutwatch.web.session import Person

router = APIRouter(tags=["alerts"])


class Comment(BaseModel):
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


class SilenceIn(BaseModel):
    comment: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    rule: str | None = None
    key: str | None = None
    owner: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    hours: float = Field(2.0, gt=0, le=MAX_SILENCE.days * 24)


@router.get("/api/v1/alerts")
def list_alerts(state: State, who: Viewer, all_alerts: Annotated[bool, Query(alias="all")] = False) -> dict[str, Any]:
    which = AlertFilter.ALL if all_alerts else AlertFilter.FIRING
    rows, withheld = access.visible_json(who.role, alert_queries.list_alerts(state.engine, which=which, limit=1000))
    return access.listing("alerts", rows, withheld)


def _act(state: State, key: str, who: Person, body: Comment | None, action: AlertAction) -> dict[str, str]:
    comment = body.comment if body is not None else None
    try:
        check_alert(state, who, key)
        act_on_alert(state.engine, state.settings, key, action, actor=who.name, now=state.now(), comment=comment)
    except AlertNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ActionRefused as exc:
        raise HTTPException(403, str(exc)) from None
    return {"key": key, "action": action.value, "by": who.name}


@router.post("/api/v1/alerts/{key}/ack")
def ack(state: State, key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
    return _act(state, key, who, body, AlertAction.ACK)


@router.post("/api/v1/alerts/{key}/resolve")
def resolve(state: State, key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
    return _act(state, key, who, body, AlertAction.RESOLVE)


@router.post("/api/v1/silences", status_code=201)
def add_silence(state: State, body: SilenceIn, who: Handler) -> dict[str, Any]:
    matcher = Matcher(body.rule, body.key, body.owner)
    try:
        check_silence(state, who, matcher)
        added = alert_actions.add_silence(
            state.engine,
            matcher,
            comment=body.comment,
            author=who.name,
            now=state.now(),
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            length=alert_actions.silence_length(hours=body.hours),
        )
    except SilenceRejected as exc:
        raise HTTPException(422, str(exc)) from None
    except ActionRefused as exc:
        raise HTTPException(403, str(exc)) from None
    return {"id": added.id, "starts_at": iso(added.starts_at), "ends_at": iso(added.ends_at)}


@router.get("/api/v1/silences")
def list_silences(
    state: State, who: Viewer, all_silences: Annotated[bool, Query(alias="all")] = False
) -> dict[str, Any]:
    listed = alert_queries.list_silences(state.engine, now=state.now(), include_expired=all_silences)
    rows, withheld = access.visible_silences(who.role, listed)
    return access.listing("silences", rows, withheld)


@router.delete("/api/v1/silences/{silence_id}")
def expire_silence(
    state: State, silence_id: Annotated[int, FastAPIPath(ge=1, le=2**63 - 1)], who: Handler
) -> dict[str, Any]:
    when = state.now()
    try:
        check_ending(state, who, silence_id, now=when)
        alert_actions.expire_silence(state.engine, silence_id, actor=who.name, now=when)
    except SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ActionRefused as exc:
        raise HTTPException(403, str(exc)) from None
    return {"id": silence_id, "expired_at": iso(when)}


@router.get("/api/v1/notifications")
def list_notifications(state: State, who: Viewer, failed: bool = False) -> dict[str, Any]:
    rows, withheld = access.visible_json(who.role, alert_queries.list_notifications(state.engine, failed_only=failed))
    return access.listing("notifications", rows, withheld)
