"""How a page is drawn: the Jinja2 environment, and the frame every page shares (the navigation, the
firing-alert badge, who is logged in and what they may do)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader

from payoutwatch.reports.render import FIGURE_FILTERS, time_filters
from payoutwatch.timefmt import zone_name
from payoutwatch.usecases.alert_queries import firing_by_rule
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import DASHBOARDS, Permission
from payoutwatch.web import access
from payoutwatch.web.session import Person, csrf_token
from payoutwatch.web.state import WebState

PAGES = {dashboard.name: dashboard.title for dashboard in DASHBOARDS}


def environment(zone: tzinfo) -> Environment:
    """Pages show instants in ``zone`` (``Settings.display_tz``)."""
    # every page is HTML: everything a template prints is escaped unless it is Markup (the chart figures)
    env = Environment(loader=PackageLoader("payoutwatch.web", "templates"), autoescape=True)
    env.filters.update(FIGURE_FILTERS)
    env.filters.update(time_filters(zone))
    env.globals["zone"] = zone_name(zone)
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


def render_page(state: WebState, request: Request, template: str, who: Person, /, **context: Any) -> HTMLResponse:
    """``template`` inside the shared frame (``context`` may name a template variable ``state``)."""
    with state.engine.connect() as conn:
        firing = firing_by_rule(conn)
    html = state.templates.get_template(template).render(
        request=request,
        who=who,
        firing=firing,
        pages=PAGES,
        csrf=csrf_token(request),
        can_handle=access.handles_some(who.role, state.settings.web),  # the action column, the silence form
        may_act=lambda a: access.may_handle(who.role, state.settings.web, rule=a["rule"], owner=a["owner"]),
        silence_owners=_silence_owners(who, state),
        can_see_credentials=allowed(who.role, Permission.VIEW_CREDENTIALS),
        team_pages=access.team_pages(who.role),
        **context,
    )
    return HTMLResponse(html)


def _silence_owners(who: Person, state: WebState) -> list[str] | None:
    """The owners a team role's silence must name (the form offers only these); None: any matcher."""
    owners = access.owners_handled(who.role, state.settings.web)
    return None if owners is None else sorted(owners)


def message_page(state: WebState, *, title: str, message: str, back: tuple[str, str], status_code: int) -> HTMLResponse:
    """A page that only says what went wrong and offers one way on: ``back`` is (href, label)."""
    html = state.templates.get_template("error.html").render(
        title=title, message=message, back_href=back[0], back_label=back[1]
    )
    return HTMLResponse(html, status_code=status_code)
