"""Security's pages: the access review (API tokens and SSO users with role, age and last use; the
credentials' rotation schedule), recorded as reviewed with a note, and one credential's version history.

The access review needs ``Permission.REVIEW_ACCESS`` (security, admin); a credential's history needs
``Permission.VIEW_CREDENTIALS`` like the credentials dashboard (DESIGN §10: never viewer or finance).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payoutwatch.metrics.credentials import versions
from payoutwatch.reports.access_review import access_review
from payoutwatch.usecases.access_reviews import last_access_review, record_access_review
from payoutwatch.vocabulary import Permission
from payoutwatch.web.deps import PageAt, State, page_needs
from payoutwatch.web.pages.render import message_page, render_page
from payoutwatch.web.session import Person, csrf_ok

router = APIRouter()

Reviewer = Annotated[Person, Depends(page_needs(Permission.REVIEW_ACCESS))]
CredentialViewer = Annotated[Person, Depends(page_needs(Permission.VIEW_CREDENTIALS))]
BACK = ("/access-review", "Back to the access review")


@router.get("/access-review", response_class=HTMLResponse)
def access_review_page(state: State, request: Request, who: Reviewer, at: PageAt) -> Response:
    with state.engine.connect() as conn:
        figures = access_review(conn, at.at, state.settings)
        last = last_access_review(conn, at.at)
    return render_page(
        state,
        request,
        "access_review.html",
        who,
        r=figures,
        last=last,
        past=True,  # no refresh: it would drop a note being typed
        title="Access review",
    )


@router.post("/access-review/reviewed")
def mark_access_reviewed(
    state: State, request: Request, who: Reviewer, csrf: str = Form(""), note: str = Form("")
) -> Response:
    if not csrf_ok(request, csrf):
        message = "the form expired; reload the page and try again"
        return message_page(state, title="Form expired", message=message, back=BACK, status_code=403)
    now = state.now()
    with state.engine.connect() as conn:
        figures = access_review(conn, now, state.settings)
    try:
        record_access_review(state.engine, figures, actor=who.name, now=now, note=note.strip() or None)
    except ValueError as exc:
        return message_page(state, title="Cannot record the review", message=str(exc), back=BACK, status_code=422)
    return RedirectResponse(BACK[0], status_code=303)


@router.get("/credentials/{credential_id}/history", response_class=HTMLResponse)
def credential_history(
    state: State, request: Request, credential_id: str, who: CredentialViewer, at: PageAt
) -> Response:
    with state.engine.connect() as conn:
        found = versions(conn, credential_id, at.at, state.settings)
    if not found:
        back = ("/dashboards/credentials", "Back to the credentials")
        message = f"no credential {credential_id!r}"
        return message_page(state, title="No such credential", message=message, back=back, status_code=404)
    return render_page(
        state,
        request,
        "credential_history.html",
        who,
        versions=found,
        credential_id=credential_id,
        past=True,
        title=f"{credential_id} history",
    )
