"""What wraps every request: signed sessions, a body size limit, and the security headers (CSP and friends)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware

from payoutwatch.config import WebSettings

MAX_BODY_BYTES = 10 * 1024 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
}


async def limits_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse a body declared larger than ``MAX_BODY_BYTES`` (413); add the security headers a handler
    did not set itself."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        return JSONResponse({"detail": "request body too large"}, status_code=413)
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install_middleware(app: FastAPI, web: WebSettings) -> None:
    """Sessions inside, limits and headers outside (the last added runs first). Without a configured
    ``session_secret`` each process signs with its own random key, so sessions do not survive a restart."""
    secret = web.session_secret.get_secret_value() if web.session_secret else secrets.token_hex(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="payoutwatch_session",
        max_age=int(web.session_hours * 3600),
        same_site="lax",
        https_only=web.secure_cookies,
    )
    app.add_middleware(BaseHTTPMiddleware, dispatch=limits_and_headers)
