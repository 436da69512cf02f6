"""Silences: the active ones (who, why, until when) each with an "End" button, the add-silence form with a
preview of the firing alerts it would mute (on the page, and live through ``/silences/preview``, which
payoutwatch.js asks as the matcher is typed), and the forms' POSTs (each checks the session's CSRF token).

Who may add or end which silence is the API's rule (DESIGN §10 "Who may act", ``web.access``); the
matching is the one delivery uses (``usecases.alert_queries.alerts_matching``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.alert_actions import (
    SilenceNotFound,
    SilenceRejected,
    add_silence,
    expire_silence,
    silence_length,
)
from payoutwatch.web import access
from payoutwatch.web.deps import ActionRefused, PageHandler, PageViewer, State, check_ending, check_silence
from payoutwatch.web.pages.render import message_page, render_page
from payoutwatch.web.session import Person, csrf_ok
from payoutwatch.web.state import WebState

router = APIRouter()

FORM_EXPIRED = "the form expired; reload the page and try again"
BACK = ("/silences", "Back to the silences")
PREVIEW_LISTED = 50  # the preview lists this many matching alerts and counts the rest


def matcher_of(rule: str, key: str, owner: str) -> Matcher:
    """A form's matcher: an empty field matches anything."""
    return Matcher(rule.strip() or None, key.strip() or None, owner.strip() or None)


def preview(state: WebState, who: Person, matcher: Matcher) -> dict[str, Any]:
    """What a silence with ``matcher`` would mute now, as ``who`` may see it: ``alerts`` (the first
    ``PREVIEW_LISTED``), ``count`` (all of them that ``who`` may see), ``withheld`` (matching alerts ``who`` may
    not see), and ``refusal``: why ``who`` may not add it (None when they may)."""
    if matcher == Matcher():
        return {"alerts": [], "count": 0, "withheld": 0, "refusal": "name a rule, an alert key or an owner"}
    rows, withheld = access.visible_json(who.role, alert_queries.alerts_matching(state.engine, matcher))
    try:
        check_silence(state, who, matcher)
        refusal = None
    except ActionRefused as exc:
        refusal = str(exc)
    listed = [{k: a[k] for k in ("key", "severity", "owner", "summary")} for a in rows[:PREVIEW_LISTED]]
    return {"alerts": listed, "count": len(rows), "withheld": withheld, "refusal": refusal}


@router.get("/silences", response_class=HTMLResponse)
def silence_list(
    state: State,
    request: Request,
    who: PageViewer,
    rule: str = "",
    key: str = "",
    owner: str = "",
    hours: str = "2",
    comment: str = "",
) -> Response:
    """The active silences, and the form; with a matcher in the query (a "Silence…" link on an alert) the
    form is filled in and the alerts it would mute are listed."""
    form = {"rule": rule, "key": key, "owner": owner, "hours": hours, "comment": comment}
    return _page(state, request, who, form)


def _page(state: WebState, request: Request, who: Person, form: dict[str, str]) -> Response:
    active, withheld = access.visible_silences(who.role, alert_queries.list_silences(state.engine, now=state.now()))
    matcher = matcher_of(form["rule"], form["key"], form["owner"])
    return render_page(
        state,
        request,
        "silences.html",
        who,
        silences=active,
        withheld=withheld,
        may_end=lambda s: access.may_silence(who.role, state.settings.web, Matcher(s["rule"], s["key"], s["owner"])),
        form=form,
        preview=None if matcher == Matcher() else preview(state, who, matcher),
        editing=True,  # no refresh every minute: it would clear a half-typed silence
        title="Silences",
    )


@router.get("/silences/preview")
def silence_preview(state: State, who: PageViewer, rule: str = "", key: str = "", owner: str = "") -> JSONResponse:
    """The preview as JSON for the form's live count (the session's page, not the API)."""
    return JSONResponse(preview(state, who, matcher_of(rule, key, owner)))


@router.post("/silences")
def silence(
    state: State,
    request: Request,
    who: PageHandler,
    csrf: str = Form(""),
    comment: str = Form(""),
    key: str = Form(""),
    rule: str = Form(""),
    owner: str = Form(""),
    hours: float = Form(2.0),
    step: str = Form("save"),
) -> Response:
    """Add a silence; with ``step=preview`` (the form's "Preview" button) only show the form again, filled
    in, with the alerts it would mute."""
    if not csrf_ok(request, csrf):
        return message_page(state, title="Form expired", message=FORM_EXPIRED, back=BACK, status_code=403)
    if step == "preview":
        form = {"rule": rule, "key": key, "owner": owner, "hours": f"{hours:g}", "comment": comment}
        return _page(state, request, who, form)
    matcher = matcher_of(rule, key, owner)
    try:
        check_silence(state, who, matcher)
        add_silence(
            state.engine,
            matcher,
            comment=comment,
            author=who.name,
            now=state.now(),
            length=silence_length(hours=hours),
        )
    except SilenceRejected as exc:
        return message_page(state, title="Cannot silence", message=str(exc), back=BACK, status_code=422)
    except ActionRefused as exc:
        return message_page(state, title="Not allowed", message=str(exc), back=BACK, status_code=403)
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/end")
def end_silence(
    state: State,
    request: Request,
    silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    who: PageHandler,
    csrf: str = Form(""),
) -> Response:
    """End an active silence now, if ``who`` may (the API's ``DELETE /api/v1/silences/{id}``)."""
    if not csrf_ok(request, csrf):
        return message_page(state, title="Form expired", message=FORM_EXPIRED, back=BACK, status_code=403)
    now = state.now()
    try:
        check_ending(state, who, silence_id, now=now)
        expire_silence(state.engine, silence_id, actor=who.name, now=now)
    except SilenceNotFound as exc:
        return message_page(state, title="No such silence", message=str(exc), back=BACK, status_code=404)
    except ActionRefused as exc:
        return message_page(state, title="Not allowed", message=str(exc), back=BACK, status_code=403)
    return RedirectResponse("/silences", status_code=303)
