"""Logging in with an API token (the session keeps the token's id) and out."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payoutwatch.web.deps import State
from payoutwatch.web.session import csrf_ok, log_in

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(state: State, request: Request, next: str = "/", error: str | None = None) -> HTMLResponse:
    return HTMLResponse(state.templates.get_template("login.html").render(request=request, next=next, error=error))


@router.post("/login")
def login(state: State, request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    if log_in(request, state.engine, token, state.now()) is None:
        html = state.templates.get_template("login.html").render(
            request=request, next=next, error="That token is unknown or revoked."
        )
        return HTMLResponse(html, status_code=401)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    if csrf_ok(request, csrf):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)
