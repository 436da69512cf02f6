"""Alerts: the list, one alert with its history and notifications, and the ack / resolve / silence
forms (each checks the session's CSRF token)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from payoutwatch.notify.silences import Matcher, add_silence
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.usecases.alert_actions import AlertAction, act_on_alert
from payoutwatch.usecases.alert_queries import alert_json
from payoutwatch.web.deps import PageHandler, PageViewer, State
from payoutwatch.web.pages.render import render_page
from payoutwatch.web.session import Person, csrf_ok

router = APIRouter()

FORM_EXPIRED = "the form expired; reload the page and try again"


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    state: State,
    request: Request,
    who: PageViewer,
    rule: str | None = None,
    owner: str | None = None,
    state_filter: str = Query("firing", alias="state"),
) -> Response:
    q = select(alerts).order_by(alerts.c.started_at.desc(), alerts.c.id.desc()).limit(500)
    if state_filter in ("firing", "resolved"):
        q = q.where(alerts.c.state == state_filter)
    if rule:
        q = q.where(alerts.c.rule == rule)
    if owner:
        q = q.where(alerts.c.owner == owner)
    with state.engine.connect() as conn:
        rows = [alert_json(r) for r in conn.execute(q)]
    return render_page(
        state, request, "alerts.html", who, rows=rows, rule=rule, owner=owner, state=state_filter, title="Alerts"
    )


@router.get("/alerts/{key}", response_class=HTMLResponse)
def alert_detail(state: State, request: Request, key: str, who: PageViewer) -> Response:
    with state.engine.connect() as conn:
        row = conn.execute(
            select(alerts).where(alerts.c.key == key).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
        ).first()
        if row is None:
            return HTMLResponse("no such alert", status_code=404)
        history = conn.execute(
            select(alert_history).where(alert_history.c.alert_id == row.id).order_by(alert_history.c.id)
        ).all()
        sent = conn.execute(
            select(notifications).where(notifications.c.alert_id == row.id).order_by(notifications.c.id)
        ).all()
    return render_page(state, request, "alert.html", who, a=alert_json(row), history=history, sent=sent, title=key)


def _act(
    state: State, request: Request, who: Person, key: str, action: AlertAction, csrf: str, comment: str
) -> Response:
    if not csrf_ok(request, csrf):
        return HTMLResponse(FORM_EXPIRED, status_code=403)
    try:
        act_on_alert(
            state.engine, state.settings, key, action, actor=who.name, now=state.now(), comment=comment or None
        )
    except AlertNotFound as exc:
        return HTMLResponse(str(exc), status_code=404)
    return RedirectResponse(f"/alerts/{quote(key, safe='')}", status_code=303)


@router.post("/alerts/{key}/ack")
def ack(
    state: State, request: Request, key: str, who: PageHandler, csrf: str = Form(""), comment: str = Form("")
) -> Response:
    return _act(state, request, who, key, AlertAction.ACK, csrf, comment)


@router.post("/alerts/{key}/resolve")
def resolve(
    state: State, request: Request, key: str, who: PageHandler, csrf: str = Form(""), comment: str = Form("")
) -> Response:
    return _act(state, request, who, key, AlertAction.RESOLVE, csrf, comment)


@router.post("/silences")
def silence(
    state: State,
    request: Request,
    who: PageHandler,
    csrf: str = Form(""),
    comment: str = Form(...),
    key: str = Form(""),
    rule: str = Form(""),
    hours: float = Form(2.0),
) -> Response:
    if not csrf_ok(request, csrf):
        return HTMLResponse(FORM_EXPIRED, status_code=403)
    when = state.now()
    try:
        with state.engine.begin() as conn:
            silence_id = add_silence(
                conn,
                Matcher(rule or None, key or None),
                starts_at=when,
                ends_at=when + timedelta(hours=max(0.1, min(hours, 24 * 90))),
                author=who.name,
                comment=comment,
                now=when,
            )
            audit(conn, actor=who.name, action="silence_add", target=str(silence_id), now=when)
    except ValueError as exc:
        return HTMLResponse(str(exc), status_code=422)
    return RedirectResponse("/alerts", status_code=303)
