"""What wraps every request: signed sessions, a body size limit, and the security headers (CSP and friends).

Both outer layers are plain ASGI middleware: the body limit counts the bytes of every ``http.request``
message as the app reads them (a chunked body declares no length), and the headers layer adds its headers
to the response start without buffering the response.
"""

from __future__ import annotations

import json
import secrets

from fastapi import FastAPI, HTTPException, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payoutwatch.config import WebSettings

MAX_BODY_BYTES = 10 * 1024 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NONCE_KEY = "csp_nonce"  # where a request's nonce is kept: request.state.csp_nonce


def content_security_policy(nonce: str) -> str:
    """Scripts only from payoutwatch's own files, never inline; styles from its own files or a ``<style>``
    carrying this response's nonce (the HTML reports keep their styles inline to stay self-contained)."""
    return (
        "default-src 'self'; img-src 'self' data:; "
        f"style-src 'self' 'nonce-{nonce}'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def csp_nonce(request: Request) -> str:
    """This response's CSP nonce, for the ``<style>`` of a report served as it is."""
    return str(getattr(request.state, NONCE_KEY))


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit. An ``HTTPException``, so FastAPI's own body
    parsing lets it through and the app answers 413 whichever handler was reading."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large (at most {limit} bytes)")


class BodyLimit:
    """Refuse a body larger than ``limit`` bytes (413) as soon as it is declared or, for a body without
    ``Content-Length`` (chunked), as soon as the bytes read pass the limit: the rest is never buffered."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(send, self.limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large (at most {limit} bytes)"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Add the security headers a handler did not set itself to every HTTP response, with a fresh CSP
    nonce per request (``request.state.csp_nonce``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        ours = {**SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(nonce)}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ours.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def install_middleware(app: FastAPI, web: WebSettings, session_key: str) -> None:
    """Sessions (cookies signed with ``session_key``) inside, then the body limit, the headers outermost so
    a 413 carries them too (the last added runs first)."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key,
        session_cookie="payoutwatch_session",
        max_age=int(web.session_hours * 3600),
        same_site="lax",
        https_only=web.secure_cookies,
    )
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
