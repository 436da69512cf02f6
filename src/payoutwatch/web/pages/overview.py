"""The overview (every dashboard the visitor may see, on one page) and one page per dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from payoutwatch.metrics import compute
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import dashboard_named
from payoutwatch.web.dashboard_charts import dashboard_charts
from payoutwatch.web.deps import NotAllowed, PageAt, PageViewer, State
from payoutwatch.web.pages.render import PAGES, message_page, render_page
from payoutwatch.web.session import Person

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(state: State, request: Request, who: PageViewer, at: PageAt) -> Response:
    with state.engine.connect() as conn:
        boards = {
            name: compute(name, conn, at.at, state.settings)
            for name in PAGES
            if allowed(who.role, dashboard_named(name).permission)
        }
    return render_page(state, request, "overview.html", who, boards=boards, at=at.at, past=at.past)


def dashboard_viewer(name: str, who: PageViewer) -> Person:
    """Each dashboard needs the permission the registry names (credentials need their own)."""
    if name in PAGES and not allowed(who.role, dashboard_named(name).permission):
        raise NotAllowed(who)
    return who


@router.get("/dashboards/{name}", response_class=HTMLResponse)
def dashboard(
    state: State, request: Request, name: str, who: Annotated[Person, Depends(dashboard_viewer)], at: PageAt
) -> Response:
    if name not in PAGES:
        back = ("/", "Back to the overview")
        return message_page(
            state, title="No such dashboard", message=f"no dashboard {name!r}", back=back, status_code=404
        )
    with state.engine.connect() as conn:
        figures = compute(name, conn, at.at, state.settings)
        charts = dashboard_charts(name, figures, state.settings, conn)
    return render_page(
        state,
        request,
        f"{name}.html",
        who,
        f=figures,
        at=at.at,
        past=at.past,
        charts=charts,
        title=PAGES[name],
    )
