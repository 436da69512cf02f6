"""The FastAPI application: the JSON API over the same functions as the CLI, health, metrics, webhooks.

Every endpoint but ``/healthz``, ``/readyz``, ``/metrics`` and ``/webhooks/stripe`` (verified by its
signature) needs a bearer token; a missing or unknown token is 401, too little a role 403.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency aliases defined
inside ``create_app`` as objects, not as names to look up.)
"""

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, text

from payoutwatch import __version__
from payoutwatch.clock import iso, parse_instant
from payoutwatch.config import Settings, StripeSource
from payoutwatch.metrics import DASHBOARD_NAMES, compute
from payoutwatch.records import RECORD_TYPES, BatchRejected
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import alerts
from payoutwatch.usecases.alert_queries import alert_json, notification_json, silence_json
from payoutwatch.usecases.tokens import Permission, allowed, authenticate
from payoutwatch.web.session import Person

MAX_BODY_BYTES = 10 * 1024 * 1024
bearer = HTTPBearer(auto_error=False)


class Comment(BaseModel):
    comment: str | None = Field(None, max_length=2000)


class SilenceIn(BaseModel):
    comment: str = Field(min_length=1, max_length=2000)
    rule: str | None = None
    key: str | None = None
    owner: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    hours: float = Field(2.0, gt=0, le=24 * 90)


class PingIn(BaseModel):
    run_id: str | None = None
    exit_code: int | None = None
    figures: dict[str, Any] = Field(default_factory=dict)


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    now: Callable[[], datetime],
    heartbeat: Any = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()  # before uvicorn exits (it re-raises SIGTERM once shutdown completes)

    app = FastAPI(
        title="payoutwatch",
        version=__version__,
        lifespan=lifespan,
        description="Payout health, fallbacks, reserves and credential expiry, as of any instant.",
    )

    from starlette.middleware.sessions import SessionMiddleware

    from payoutwatch.web.pages import router as pages_router

    secret = settings.web.session_secret.get_secret_value() if settings.web.session_secret else secrets.token_hex(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="payoutwatch_session",
        max_age=int(settings.web.session_hours * 3600),
        same_site="lax",
        https_only=settings.web.secure_cookies,
    )
    app.include_router(pages_router(settings, engine, now))

    @app.middleware("http")
    async def limits_and_headers(request: Request, call_next: Any) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return JSONResponse({"detail": "request body too large"}, status_code=413)
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        return response

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Person:
        if credentials is None:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        with engine.begin() as conn:
            row = authenticate(conn, credentials.credentials, now=now())
        if row is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return Person.of_token(row)

    def needs(permission: Permission) -> Callable[..., Person]:
        def check(who: Annotated[Person, Depends(principal)]) -> Person:
            if not allowed(who.role, permission):
                raise HTTPException(403, f"the {who.role.value} role may not {permission.value.replace('_', ' ')}")
            return who

        return check

    Viewer = Annotated[Person, Depends(needs(Permission.VIEW))]
    Handler = Annotated[Person, Depends(needs(Permission.HANDLE_ALERTS))]
    Writer = Annotated[Person, Depends(needs(Permission.WRITE_RECORDS))]

    def instant(at: str | None) -> datetime:
        if at is None:
            return now()
        try:
            return parse_instant(at)
        except ValueError:
            raise HTTPException(422, "at: an ISO 8601 instant with an offset, e.g. 2026-03-05T11:00:00Z") from None

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        if heartbeat is not None:  # the loop's Heartbeat: when it last went round, and whether it leads
            limit = timedelta(
                seconds=2 * max(settings.service.evaluate_interval_seconds, settings.service.tick_seconds)
            )
            if heartbeat.at is None or now() - heartbeat.at > limit:
                return JSONResponse({"status": "background loop not running"}, status_code=503)
            return JSONResponse({"status": "ready", "leader": heartbeat.leader})
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Response:
        from payoutwatch.web.metrics_export import render_metrics

        if not settings.web.public_metrics:
            needs(Permission.VIEW)(principal(credentials))
        return Response(render_metrics(engine, settings, now), media_type="text/plain; version=0.0.4")

    @app.get("/api/v1/dashboards/{name}", tags=["dashboards"])
    def dashboard(name: str, who: Viewer, at: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        if name not in DASHBOARD_NAMES:
            raise HTTPException(404, f"no dashboard {name!r}; expected one of {', '.join(DASHBOARD_NAMES)}")
        if name == "credentials" and not allowed(who.role, Permission.VIEW_CREDENTIALS):
            raise HTTPException(403, f"the {who.role.value} role may not view credentials")
        with engine.connect() as conn:
            return compute(name, conn, instant(at), settings)

    @app.get("/api/v1/alerts", tags=["alerts"])
    def list_alerts(who: Viewer, all_alerts: Annotated[bool, Query(alias="all")] = False) -> dict[str, Any]:
        q = select(alerts).order_by(alerts.c.started_at.desc(), alerts.c.id.desc()).limit(1000)
        if not all_alerts:
            q = q.where(alerts.c.state == "firing")
        with engine.connect() as conn:
            return {"alerts": [alert_json(r) for r in conn.execute(q)]}

    def person_action(key: str, who: Person, body: Comment, action: str) -> dict[str, str]:
        from payoutwatch.rules.engine import AlertNotFound
        from payoutwatch.usecases.alert_actions import AlertAction, act_on_alert

        try:
            act_on_alert(engine, settings, key, AlertAction(action), actor=who.name, now=now(), comment=body.comment)
        except AlertNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        return {"key": key, "action": action, "by": who.name}

    @app.post("/api/v1/alerts/{key}/ack", tags=["alerts"])
    def ack(key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
        return person_action(key, who, body or Comment(), "ack")

    @app.post("/api/v1/alerts/{key}/resolve", tags=["alerts"])
    def resolve(key: str, who: Handler, body: Comment | None = None) -> dict[str, str]:
        return person_action(key, who, body or Comment(), "resolve")

    @app.post("/api/v1/silences", tags=["alerts"], status_code=201)
    def add_silence(body: SilenceIn, who: Handler) -> dict[str, Any]:
        from payoutwatch.notify.silences import Matcher
        from payoutwatch.notify.silences import add_silence as store_silence

        when = now()
        starts = body.starts_at or when
        ends = body.ends_at or starts + timedelta(hours=body.hours)
        try:
            with engine.begin() as conn:
                silence_id = store_silence(
                    conn,
                    Matcher(body.rule, body.key, body.owner),
                    starts_at=starts,
                    ends_at=ends,
                    author=who.name,
                    comment=body.comment,
                    now=when,
                )
                audit(conn, actor=who.name, action="silence_add", target=str(silence_id), now=when)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": silence_id, "starts_at": iso(starts), "ends_at": iso(ends)}

    @app.get("/api/v1/silences", tags=["alerts"])
    def list_silences(who: Viewer, all_silences: Annotated[bool, Query(alias="all")] = False) -> dict[str, Any]:
        from payoutwatch.notify.silences import list_silences as rows

        with engine.connect() as conn:
            return {"silences": [silence_json(r) for r in rows(conn, now=now(), include_expired=all_silences)]}

    @app.delete("/api/v1/silences/{silence_id}", tags=["alerts"])
    def expire_silence(silence_id: Annotated[int, FastAPIPath(ge=1, le=2**63 - 1)], who: Handler) -> dict[str, Any]:
        from payoutwatch.notify.silences import expire_silence as expire

        when = now()
        with engine.begin() as conn:
            if not expire(conn, silence_id, now=when):
                raise HTTPException(404, f"no active silence {silence_id}")
            audit(conn, actor=who.name, action="silence_expire", target=str(silence_id), now=when)
        return {"id": silence_id, "expired_at": iso(when)}

    @app.get("/api/v1/notifications", tags=["alerts"])
    def list_notifications(who: Viewer, failed: bool = False) -> dict[str, Any]:
        from payoutwatch.notify.outbox import list_notifications as rows

        with engine.connect() as conn:
            return {"notifications": [notification_json(r) for r in rows(conn, failed_only=failed)]}

    @app.post("/api/v1/ingest/{kind}", tags=["records"])
    async def ingest(kind: str, request: Request, who: Writer) -> JSONResponse:
        from payoutwatch.usecases.ingestion import ingest_text

        if kind not in RECORD_TYPES:
            raise HTTPException(404, f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_TYPES)}")
        body = (await request.body()).decode("utf-8", errors="replace")
        try:
            result = ingest_text(engine, kind, body, settings, now=now(), actor=who.name)
        except BatchRejected as exc:
            return JSONResponse(
                {
                    "detail": f"{len(exc.errors)} invalid record(s); nothing was written",
                    "errors": [str(e) for e in exc.errors],
                },
                status_code=422,
            )
        return JSONResponse({"kind": kind, "stored": result.stored})

    @app.post("/api/v1/ping/{job}/{event}", tags=["records"])
    def ping(job: str, event: str, who: Writer, body: PingIn | None = None) -> dict[str, str]:
        from payoutwatch.usecases.pings import PingEvent, record_ping

        try:
            chosen = PingEvent(event)
        except ValueError:
            raise HTTPException(404, "event is start, success or fail") from None
        payload = body or PingIn()
        try:
            run = record_ping(
                engine,
                settings,
                job,
                chosen,
                now=now(),
                run_id=payload.run_id,
                exit_code=payload.exit_code,
                figures=payload.figures,
            )
        except BatchRejected as exc:
            raise HTTPException(422, [str(e) for e in exc.errors]) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"job": job, "event": chosen.value, "run_id": run}

    @app.post("/webhooks/stripe", tags=["webhooks"])
    async def stripe_webhook(request: Request, source: str | None = None) -> JSONResponse:
        from payoutwatch.usecases.stripe_webhook import SignatureError, handle

        names = [n for n, c in settings.sources.items() if isinstance(c, StripeSource) and c.webhook_secrets]
        name = source if source in names else (names[0] if names and source is None else None)
        if name is None:
            raise HTTPException(404, "no stripe source with webhook secrets is configured")
        try:
            outcome = handle(
                engine, settings, name, await request.body(), request.headers.get("stripe-signature"), now=now()
            )
        except SignatureError as exc:
            return JSONResponse({"detail": f"refused: {exc}"}, status_code=400)
        except BatchRejected as exc:
            return JSONResponse({"detail": [str(e) for e in exc.errors]}, status_code=422)
        return JSONResponse({"id": outcome.event_id, "applied": outcome.applied, "records": outcome.records})

    @app.exception_handler(json.JSONDecodeError)
    def bad_json(_request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return JSONResponse({"detail": f"not JSON: {exc.msg}"}, status_code=422)

    return app
