"""Server-rendered pages (Jinja2), one router per area; every figure comes from ``metrics``.

``install_page_errors`` turns the page dependencies' refusals into pages: the login form for a visitor
nobody can place, "not allowed" for too small a role, a 400 page naming a bad ``?at=``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payoutwatch.web.deps import BadInstant, NotAllowed, SignInRequired, web_state
from payoutwatch.web.pages import alerts, finance, incident, login, overview, reports, security, silences
from payoutwatch.web.pages.render import message_page

router = APIRouter(include_in_schema=False)
for _area in (login, overview, alerts, silences, reports, finance, security, incident):
    router.include_router(_area.router)


def _sign_in(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


def _not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAllowed)
    html = web_state(request).templates.get_template("forbidden.html").render(who=exc.who, request=request)
    return HTMLResponse(html, status_code=403)


def _bad_instant(request: Request, exc: Exception) -> Response:
    back = (request.url.path, "Show this page as of now")
    return message_page(web_state(request), title="Not an instant", message=str(exc), back=back, status_code=400)


def install_page_errors(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(BadInstant, _bad_instant)
