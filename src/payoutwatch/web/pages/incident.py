"""The incident timeline for a retrospective: pick a window, read runs, transitions, deliveries, acks,
silences, manual payouts and configuration changes in order (``reports.incident``'s events).

Every role that sees reports reads it; a role that may not see credentials gets no event about a
``credential_expiry`` alert, its notifications or a silence naming it (the page says how many were left out).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from payoutwatch.reports.incident import incident
from payoutwatch.vocabulary import Role
from payoutwatch.web import access
from payoutwatch.web.deps import BadInstant, PageViewer, State, page_instant
from payoutwatch.web.pages.render import message_page, render_page

router = APIRouter()

DEFAULT_WINDOW = timedelta(days=2)
MAX_WINDOW = timedelta(days=93)


def _visible(role: Role, event: dict[str, Any]) -> bool:
    key = event.get("key")
    if event["kind"] == "silence":
        return access.sees_credentials(role) or not access.silence_names_credentials(event.get("rule"), key)
    return key is None or access.sees_rule(role, key.split(":", 1)[0])


@router.get("/incident", response_class=HTMLResponse)
def timeline(
    state: State, request: Request, who: PageViewer, start: str = Query("", alias="from"), to: str = ""
) -> Response:
    now = state.now()
    try:
        zone = state.settings.display_tz
        end = page_instant(to, field="to", zone=zone) if to else now
        begin = page_instant(start, field="from", zone=zone) if start else end - DEFAULT_WINDOW
        if end <= begin:
            raise BadInstant("the window's end (to) must be after its start (from)")
        if end - begin > MAX_WINDOW:
            raise BadInstant(f"a window of at most {MAX_WINDOW.days} days; narrow from and to")
    except BadInstant as exc:
        back = ("/incident", "Back to the last two days")
        return message_page(state, title="Not a window", message=str(exc), back=back, status_code=400)
    with state.engine.connect() as conn:
        figures = incident(conn, begin, end, zone)
    events = [e for e in figures["events"] if _visible(who.role, e)]
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    return render_page(
        state,
        request,
        "incident.html",
        who,
        events=events,
        kinds=kinds,
        withheld=len(figures["events"]) - len(events),
        start=begin,
        end=end,
        past=True,
        title="Incident timeline",
    )
