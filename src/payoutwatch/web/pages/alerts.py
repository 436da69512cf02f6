"""Alerts: the list, one alert with its history and notifications (each marked when a silence mutes it),
and the ack / resolve forms (each checks the session's CSRF token). Silences have their page
(``pages.silences``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payoutwatch.notify.messages import figures, runbook_of
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.alert_actions import act_on_alert
from payoutwatch.usecases.alert_queries import AlertFilter
from payoutwatch.usecases.runbooks import sample_runbook
from payoutwatch.vocabulary import AlertAction
from payoutwatch.web import access
from payoutwatch.web.deps import (
    ActionRefused,
    NotAllowed,
    PageHandler,
    PageViewer,
    State,
    check_alert,
)
from payoutwatch.web.pages.render import message_page, render_page
from payoutwatch.web.session import Person, csrf_ok

router = APIRouter()

FORM_EXPIRED = "the form expired; reload the page and try again"
BACK = ("/alerts", "Back to the alerts")


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    state: State,
    request: Request,
    who: PageViewer,
    rule: str | None = None,
    owner: str | None = None,
    state_filter: str = Query(AlertFilter.FIRING.value, alias="state"),
) -> Response:
    which = AlertFilter(state_filter) if state_filter in (AlertFilter.FIRING, AlertFilter.RESOLVED) else AlertFilter.ALL
    listed = alert_queries.list_alerts(state.engine, which=which, rule=rule, owner=owner, limit=500)
    rows, withheld = access.visible_json(who.role, listed)
    now = state.now()
    return render_page(
        state,
        request,
        "alerts.html",
        who,
        rows=rows,
        withheld=withheld,
        muted=alert_queries.silencing(state.engine, rows, now=now),
        silence_count=len(access.visible_silences(who.role, alert_queries.list_silences(state.engine, now=now))[0]),
        rule=rule,
        owner=owner,
        state=state_filter,
        title="Alerts",
    )


@router.get("/alerts/{key:path}", response_class=HTMLResponse)
def alert_detail(state: State, request: Request, key: str, who: PageViewer) -> Response:
    detail = alert_queries.alert_detail(state.engine, key)
    if detail is None:
        return message_page(state, title="No such alert", message=f"no alert {key!r}", back=BACK, status_code=404)
    if not access.sees_rule(who.role, detail.alert["rule"]):
        raise NotAllowed(who)
    return render_page(
        state,
        request,
        "alert.html",
        who,
        a=detail.alert,
        muted_by=alert_queries.silencing(state.engine, [detail.alert], now=state.now()).get(key),
        figures=figures(
            detail.alert["rule"], detail.alert["details"] or {}, state.settings.currency, state.settings.display_tz
        ),
        runbook=runbook_of(state.settings, detail.alert["rule"]),
        history=detail.history,
        sent=detail.notifications,
        title=key,
    )


@router.get("/runbooks/{name}", response_class=HTMLResponse)
def runbook(state: State, request: Request, name: str, who: PageViewer) -> Response:
    """A sample runbook from ``docs/runbooks/`` (what the demo's ``rules.<rule>.runbook_url`` points at)."""
    text = sample_runbook(name)
    if text is None:
        message = f"no sample runbook {name!r}; rules.<rule>.runbook_url can point at any http(s) page"
        return message_page(state, title="No such runbook", message=message, back=BACK, status_code=404)
    return render_page(state, request, "runbook.html", who, name=name, text=text, title=f"Runbook: {name}")


def _act(
    state: State, request: Request, who: Person, key: str, action: AlertAction, csrf: str, comment: str
) -> Response:
    if not csrf_ok(request, csrf):
        return message_page(state, title="Form expired", message=FORM_EXPIRED, back=BACK, status_code=403)
    try:
        check_alert(state, who, key)
        act_on_alert(
            state.engine, state.settings, key, action, actor=who.name, now=state.now(), comment=comment or None
        )
    except AlertNotFound as exc:
        return message_page(state, title="No such alert", message=str(exc), back=BACK, status_code=404)
    except ActionRefused as exc:
        return message_page(state, title="Not allowed", message=str(exc), back=BACK, status_code=403)
    return RedirectResponse(f"/alerts/{quote(key, safe='')}", status_code=303)


@router.post("/alerts/{key:path}/ack")
def ack(
    state: State, request: Request, key: str, who: PageHandler, csrf: str = Form(""), comment: str = Form("")
) -> Response:
    return _act(state, request, who, key, AlertAction.ACK, csrf, comment)


@router.post("/alerts/{key:path}/resolve")
def resolve(
    state: State, request: Request, key: str, who: PageHandler, csrf: str = Form(""), comment: str = Form("")
) -> Response:
    return _act(state, request, who, key, AlertAction.RESOLVE, csrf, comment)
