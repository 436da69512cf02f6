"""Finance's pages: a cycle's reconciliation (exceptions first, totals, CSV, the sign-off form once the
cycle's run has finished) and the reserve review (``reserve_breach`` episodes, marked reviewed with a note).

Everyone who may see reports sees both; signing off needs ``Permission.SIGN_OFF`` (finance, admin), marking
an episode reviewed needs the right to handle that alert (DESIGN §10: ops, admin, finance).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payoutwatch.metrics.reconciliation import cycle_named, reconciliation
from payoutwatch.reports.reconciliation import to_csv
from payoutwatch.reports.reserve_review import reserve_review
from payoutwatch.schedule import schedule_of
from payoutwatch.usecases.alert_actions import MAX_COMMENT_CHARS, cycle_run_finished, review_alert, sign_off_cycle
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import Permission, RuleId
from payoutwatch.web.deps import (
    ActionRefused,
    PageAt,
    PageHandler,
    PageViewer,
    State,
    check_alert,
    page_needs,
)
from payoutwatch.web.pages.render import message_page, render_page
from payoutwatch.web.session import Person, csrf_ok
from payoutwatch.web.state import WebState

router = APIRouter()

FORM_EXPIRED = "the form expired; reload the page and try again"
RECENT_CYCLES = 26
SignOffer = Annotated[Person, Depends(page_needs(Permission.SIGN_OFF))]


def _cycles(state: WebState) -> list[date]:
    """The schedule's cycles of the last year up to now, newest first, as dates of the schedule's zone."""
    now = state.now()
    found = schedule_of(state.settings).between(now - timedelta(days=366), now)
    return [c.astimezone(state.settings.tz).date() for c in reversed(list(found))][:RECENT_CYCLES]


def _cycle(state: WebState, day: str) -> datetime | Response:
    """The cycle scheduled on ``day`` (YYYY-MM-DD), or a 404 page saying why there is none."""
    try:
        return cycle_named(day, state.settings)
    except ValueError as exc:
        back = ("/reconciliation", "Back to the latest cycle")
        return message_page(state, title="No such cycle", message=str(exc), back=back, status_code=404)


@router.get("/reconciliation", response_class=HTMLResponse)
def latest_reconciliation(state: State, who: PageViewer, cycle: str | None = None) -> Response:
    """The picked cycle's reconciliation, or the latest cycle's."""
    cycles = _cycles(state)
    if cycle is None and not cycles:
        back = ("/", "Back to the overview")
        return message_page(state, title="No cycle yet", message="no payout cycle so far", back=back, status_code=404)
    return RedirectResponse(f"/reconciliation/{quote(cycle or cycles[0].isoformat(), safe='')}", status_code=303)


@router.get("/reconciliation/{day}", response_class=HTMLResponse)
def reconciliation_page(state: State, request: Request, day: str, who: PageViewer) -> Response:
    cycle = _cycle(state, day)
    if isinstance(cycle, Response):
        return cycle
    with state.engine.connect() as conn:
        figures = reconciliation(conn, cycle, state.settings)
        finished = cycle_run_finished(conn, state.settings.schedule.job, cycle, now=state.now())
    return render_page(
        state,
        request,
        "reconciliation.html",
        who,
        r=figures,
        day=day,
        cycles=_cycles(state),
        run_finished=finished,
        may_sign=allowed(who.role, Permission.SIGN_OFF),
        max_comment=MAX_COMMENT_CHARS,
        past=True,  # no refresh: it would drop a comment being typed
        title=f"Reconciliation {day}",
    )


@router.get("/reconciliation/{day}/csv")
def reconciliation_csv(state: State, day: str, who: PageViewer) -> Response:
    cycle = _cycle(state, day)
    if isinstance(cycle, Response):
        return cycle
    with state.engine.connect() as conn:
        figures = reconciliation(conn, cycle, state.settings)
    return Response(
        to_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{cycle:%Y-%m-%d}.csv"'},
    )


@router.post("/reconciliation/{day}/sign-off")
def sign_off(
    state: State, request: Request, day: str, who: SignOffer, csrf: str = Form(""), comment: str = Form("")
) -> Response:
    back = (f"/reconciliation/{quote(day, safe='')}", "Back to the reconciliation")
    if not csrf_ok(request, csrf):
        return message_page(state, title="Form expired", message=FORM_EXPIRED, back=back, status_code=403)
    cycle = _cycle(state, day)
    if isinstance(cycle, Response):
        return cycle
    if len(comment) > MAX_COMMENT_CHARS or "\x00" in comment:
        message = f"a comment is at most {MAX_COMMENT_CHARS} characters of text"
        return message_page(state, title="Cannot sign off", message=message, back=back, status_code=422)
    try:
        sign_off_cycle(
            state.engine, state.settings, cycle, actor=who.name, now=state.now(), comment=comment.strip() or None
        )
    except ValueError as exc:
        return message_page(state, title="Cannot sign off", message=str(exc), back=back, status_code=409)
    return RedirectResponse(back[0], status_code=303)


@router.get("/reserve-review", response_class=HTMLResponse)
def reserve_review_page(
    state: State, request: Request, who: PageViewer, at: PageAt, days: float = Query(7, ge=1, le=366)
) -> Response:
    with state.engine.connect() as conn:
        figures = reserve_review(conn, at.at, days)
    return render_page(
        state,
        request,
        "reserve_review.html",
        who,
        r=figures,
        may_review=lambda e: _may_review(state, who, e["key"]),
        past=True,  # no refresh: it would drop a note being typed
        title="Reserve review",
    )


def _may_review(state: WebState, who: Person, key: str) -> bool:
    try:
        check_alert(state, who, key)
    except ActionRefused:
        return False
    return True


@router.post("/reserve-review/{key:path}/reviewed")
def mark_reviewed(
    state: State, request: Request, key: str, who: PageHandler, csrf: str = Form(""), note: str = Form("")
) -> Response:
    back = ("/reserve-review", "Back to the reserve review")
    if not csrf_ok(request, csrf):
        return message_page(state, title="Form expired", message=FORM_EXPIRED, back=back, status_code=403)
    if len(note) > MAX_COMMENT_CHARS or "\x00" in note:
        message = f"a note is at most {MAX_COMMENT_CHARS} characters of text"
        return message_page(state, title="Cannot mark reviewed", message=message, back=back, status_code=422)
    if not key.startswith(f"{RuleId.RESERVE_BREACH.value}:"):
        message = f"{key!r} is not a reserve_breach alert"
        return message_page(state, title="Not a reserve alert", message=message, back=back, status_code=404)
    try:
        check_alert(state, who, key)
        review_alert(state.engine, key, actor=who.name, now=state.now(), note=note.strip() or None)
    except ActionRefused as exc:
        return message_page(state, title="Not allowed", message=str(exc), back=back, status_code=403)
    except LookupError as exc:
        return message_page(state, title="No such alert", message=str(exc), back=back, status_code=404)
    return RedirectResponse(back[0], status_code=303)
