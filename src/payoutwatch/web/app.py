"""The app factory: middleware, shared state on ``app.state``, the page and API routers.

Routes live in ``web.pages`` and ``web.api`` (one module per area); who is asking, what they may do and
the instant shown come from ``web.deps``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from payoutwatch import __version__
from payoutwatch.config import Settings
from payoutwatch.web import api, pages
from payoutwatch.web.middleware import install_middleware
from payoutwatch.web.pages.render import environment
from payoutwatch.web.proxy import install_proxy_trust
from payoutwatch.web.session import session_key
from payoutwatch.web.state import LoopStatus, WebState
from payoutwatch.web.store_busy import install_store_busy


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    now: Callable[[], datetime],
    heartbeat: LoopStatus | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """The web app over ``engine``. ``heartbeat`` is the background loop's, when one runs beside it
    (``/readyz`` then checks it went round recently); ``on_shutdown`` runs before uvicorn exits (it
    re-raises SIGTERM once shutdown completes)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        title="payoutwatch",
        version=__version__,
        lifespan=lifespan,
        description="Payout health, fallbacks, reserves and credential expiry, as of any instant.",
    )
    app.state.web = WebState(
        settings=settings, engine=engine, now=now, loop=heartbeat, templates=environment(settings.display_tz)
    )
    install_middleware(app, settings.web, session_key(settings, engine, now()))
    install_proxy_trust(app, settings.web)
    app.mount("/static", StaticFiles(packages=[("payoutwatch.web", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    pages.install_page_errors(app)
    install_store_busy(app)
    app.add_exception_handler(json.JSONDecodeError, _bad_json)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


def _bad_json(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, json.JSONDecodeError)
    return JSONResponse({"detail": f"not JSON: {exc.msg}"}, status_code=422)


def _invalid_request(_request: Request, exc: Exception) -> Response:
    """422 naming each field and what is wrong with it, without echoing the value: a value may be huge, or
    hold a lone surrogate that cannot be written as UTF-8 (the default answer then fails with a 500)."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
    return Response(json.dumps({"detail": errors}, default=str), status_code=422, media_type="application/json")
