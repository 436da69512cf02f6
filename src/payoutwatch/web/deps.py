"""FastAPI dependencies shared by the API and the pages: the app's state, who is asking, what they may do,
and the instant a view is shown at.

The API knows a person by a bearer token only (401 without one, 403 for too little a role). The pages
also accept a session cookie or a trusted SSO proxy's headers; a visitor they cannot place is sent to
the login page (``SignInRequired``), one whose role is too small sees the "not allowed" page
(``NotAllowed``). The handlers for both live in ``web.pages``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.instants import InstantError, instant_or_now, parse_instant
from payoutwatch.usecases.tokens import allowed, authenticate
from payoutwatch.vocabulary import Permission
from payoutwatch.web import access
from payoutwatch.web.session import Person, current_person
from payoutwatch.web.state import WebState

bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


State = Annotated[WebState, Depends(web_state)]


# --- the API: bearer tokens -------------------------------------------------------------------------


def token_person(state: State, credentials: Credentials) -> Person:
    """The person a bearer token speaks for; 401 without a known, unrevoked token (one found valid in the
    last seconds is not looked up again: ``web/known_tokens.py``)."""
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    row = state.tokens.row(credentials.credentials)
    if row is None:
        with state.engine.begin() as conn:
            row = authenticate(conn, credentials.credentials, now=state.now())
        if row is not None:
            state.tokens.keep(credentials.credentials, row)
    if row is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return Person.of_token(row)


def require(who: Person, permission: Permission) -> Person:
    """``who`` if their role grants ``permission``; 403 naming the role and the permission otherwise."""
    if not allowed(who.role, permission):
        raise HTTPException(403, f"the {who.role.value} role may not {permission.value.replace('_', ' ')}")
    return who


def needs(permission: Permission) -> Callable[[Person], Person]:
    """A dependency: the token's person, refused unless their role grants ``permission``."""

    def check(who: Annotated[Person, Depends(token_person)]) -> Person:
        return require(who, permission)

    return check


Viewer = Annotated[Person, Depends(needs(Permission.VIEW))]
Writer = Annotated[Person, Depends(needs(Permission.WRITE_RECORDS))]


def alert_handler(state: State, who: Viewer) -> Person:
    """A person whose role may handle some alerts (ops, admin, or a team role with owners in
    ``web.role_owners``); 403 otherwise. Which alert, or which silence, is checked by ``check_alert`` /
    ``check_silence``."""
    if not access.handles_some(who.role, state.settings.web):
        raise HTTPException(403, access.refusal(who.role, state.settings.web))
    return who


Handler = Annotated[Person, Depends(alert_handler)]


class ActionRefused(Exception):
    """``who`` may not act on this alert or silence; the message says why (a 403 on the API and the pages)."""


def check_alert(state: WebState, who: Person, key: str) -> None:
    """Raises ``ActionRefused`` unless ``who`` may acknowledge or resolve alert ``key`` (DESIGN §10 "Who may
    act"); an unknown key passes, for the use case to answer that it does not exist."""
    detail = alert_queries.alert_detail(state.engine, key)
    if detail is None:
        return
    a = detail.alert
    if not access.may_handle(who.role, state.settings.web, rule=a["rule"], owner=a["owner"]):
        raise ActionRefused(access.refusal(who.role, state.settings.web))


def check_silence(state: WebState, who: Person, matcher: Matcher) -> None:
    """Raises ``ActionRefused`` unless ``who`` may add, or expire, a silence with ``matcher``."""
    if not access.may_silence(who.role, state.settings.web, matcher):
        owners = access.owners_handled(who.role, state.settings.web) or frozenset()
        raise ActionRefused(
            f"the {who.role.value} role may only silence its team's alerts: set owner to {' or '.join(sorted(owners))}"
        )


def check_ending(state: WebState, who: Person, silence_id: int, *, now: datetime) -> None:
    """Raises ``ActionRefused`` unless ``who`` may end silence ``silence_id`` (the one rule as adding it);
    an unknown id passes, for the use case to answer that no such silence is active."""
    every = alert_queries.list_silences(state.engine, now=now, include_expired=True)
    for s in every:
        if s["id"] == silence_id:
            check_silence(state, who, Matcher(s["rule"], s["key"], s["owner"]))


def api_instant(state: State, at: Annotated[str | None, Query()] = None) -> datetime:
    """``?at=`` as an instant (now when absent); 422 for a value that is not one."""
    try:
        return instant_or_now(at, option_name="at", now=state.now(), within_records=True)
    except InstantError as exc:
        raise HTTPException(422, str(exc)) from None


At = Annotated[datetime, Depends(api_instant)]


# --- the pages: SSO proxy, session cookie or bearer token ---------------------------------------------


class SignInRequired(Exception):
    """Nobody the pages can place is asking: send them to log in, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class NotAllowed(Exception):
    """``who`` is known but their role may not see this page."""

    def __init__(self, who: Person) -> None:
        super().__init__(who.name)
        self.who = who


class BadInstant(Exception):
    """A page was asked for an instant that is not one; shown as a 400 page with the message."""


def page_person(request: Request, state: State) -> Person:
    who = current_person(request, state.engine, state.settings, state.now())
    if who is None:
        raise SignInRequired(request.url.path)
    return who


def page_needs(permission: Permission) -> Callable[[Person], Person]:
    """A dependency for pages: the visitor, refused with the "not allowed" page unless their role grants
    ``permission``."""

    def check(who: Annotated[Person, Depends(page_person)]) -> Person:
        if not allowed(who.role, permission):
            raise NotAllowed(who)
        return who

    return check


PageViewer = Annotated[Person, Depends(page_needs(Permission.VIEW))]


def page_alert_handler(state: State, who: PageViewer) -> Person:
    """A visitor whose role may handle some alerts; the "not allowed" page otherwise."""
    if not access.handles_some(who.role, state.settings.web):
        raise NotAllowed(who)
    return who


PageHandler = Annotated[Person, Depends(page_alert_handler)]


def page_instant(value: str, *, field: str, zone: tzinfo) -> datetime:
    """An instant typed into a page's ``field``; ``datetime-local`` inputs carry no zone, and the pages
    speak ``zone`` (``Settings.display_tz``). Raises ``BadInstant`` naming the field and the value."""
    try:
        return parse_instant(value, option_name=field, naive_zone=zone, within_records=True)
    except InstantError as exc:
        raise BadInstant(str(exc)) from None


@dataclass(frozen=True)
class AsOf:
    """The instant a page shows, and whether it is a past one (``?at=`` given) rather than now."""

    at: datetime
    past: bool


def page_as_of(state: State, at: str | None = None) -> AsOf:
    """``?at=`` on a page: now when absent or empty (a cleared form field), the instant otherwise; a value
    that is not an instant is an error (``BadInstant``), never silently now."""
    if not at:
        return AsOf(state.now(), False)
    return AsOf(page_instant(at, field="at", zone=state.settings.display_tz), True)


PageAt = Annotated[AsOf, Depends(page_as_of)]
