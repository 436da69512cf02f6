"""Who is asking, for pages: a trusted proxy's SSO headers, a signed session cookie, or a bearer token.

Sessions hold the token's id (checked on every request, so revoking a token ends its sessions) and a
CSRF secret that every form posts back.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, insert, select, update

from payoutwatch.config import Settings
from payoutwatch.store.service_secrets import SESSION_KEY, kept_secret
from payoutwatch.store.tables import api_tokens, sso_users
from payoutwatch.usecases.tokens import GRANTS, authenticate
from payoutwatch.vocabulary import Role
from payoutwatch.web.proxy import direct_peer_trusted

POWER = [Role.ADMIN, Role.OPS, Role.SECURITY, Role.ENGINEERING, Role.FINANCE, Role.VIEWER, Role.INGEST, Role.METRICS]


def session_key(settings: Settings, engine: Engine, now: datetime) -> str:
    """What signs session cookies: ``web.session_secret`` when set, else a key generated once and kept in
    the store, so replicas and restarts accept each other's sessions either way."""
    if settings.web.session_secret is not None:
        return settings.web.session_secret.get_secret_value()
    return kept_secret(engine, SESSION_KEY, now=now)


@dataclass(frozen=True)
class Person:
    name: str
    role: Role

    @classmethod
    def of_token(cls, row: Any) -> Person:
        """The person an API token (a row of ``api_tokens``) speaks for."""
        return cls(f"token:{row.name}", Role(row.role))


def _sso(request: Request, settings: Settings) -> Person | None:
    """The person a trusted proxy's SSO headers name; None unless the DIRECT peer is a trusted proxy (a
    forwarded address never makes a request trusted) and one of the groups maps to a role."""
    sso = settings.web.sso
    if sso is None or not direct_peer_trusted(request, settings.web):
        return None
    user = request.headers.get(sso.user_header)
    if not user:
        return None
    groups = [g.strip() for g in request.headers.get(sso.groups_header, "").split(",") if g.strip()]
    roles = {Role(sso.group_roles[g]) for g in groups if g in sso.group_roles}
    if not roles:
        return None
    return Person(f"sso:{user}", min(roles, key=POWER.index))


def _seen(engine: Engine, person: Person, now: datetime) -> None:
    """Remember an SSO user and their role for the access review (once a minute at most)."""
    with engine.begin() as conn:
        row = conn.execute(
            select(sso_users.c.last_seen_at, sso_users.c.role).where(sso_users.c.name == person.name)
        ).first()
        if row is None:
            conn.execute(
                insert(sso_users).values(name=person.name, role=person.role.value, first_seen_at=now, last_seen_at=now)
            )
        elif now - row.last_seen_at >= timedelta(minutes=1) or row.role != person.role.value:
            conn.execute(
                update(sso_users)
                .where(sso_users.c.name == person.name)
                .values(last_seen_at=now, role=person.role.value)
            )


def current_person(request: Request, engine: Engine, settings: Settings, now: datetime) -> Person | None:
    person = _sso(request, settings)
    if person is not None:
        _seen(engine, person, now)
        return person
    token_id = request.session.get("token_id")
    if token_id is not None:
        with engine.connect() as conn:
            row = conn.execute(
                select(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is not None:
            return Person.of_token(row)
        request.session.clear()
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        with engine.begin() as conn:
            row = authenticate(conn, header[7:].strip(), now=now)
        if row is not None:
            return Person.of_token(row)
    return None


def log_in(request: Request, engine: Engine, token: str, now: datetime) -> Person | None:
    with engine.begin() as conn:
        row = authenticate(conn, token.strip(), now=now)
    if row is None or not GRANTS[Role(row.role)]:
        return None
    request.session.clear()
    request.session.update({"token_id": row.id, "csrf": secrets.token_urlsafe(24)})
    return Person.of_token(row)


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return str(request.session["csrf"])


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(str(expected), submitted))
