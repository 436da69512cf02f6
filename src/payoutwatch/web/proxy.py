"""Which peer may speak for someone else.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) and the SSO headers (``web.sso.user_header``,
``web.sso.groups_header``) count only when the DIRECT peer — the address that opened the TCP connection —
is in ``web.sso.trusted_proxies``. Without ``web.sso`` no peer is trusted.

The app applies this itself, so it holds however the app is served:

- ``PeerGate`` (outermost) records the direct peer in the request scope (``direct_peer``) and, for a peer
  that is not trusted, removes every forwarded and SSO header, so nothing further in can read them;
- uvicorn's own ``ProxyHeadersMiddleware`` then runs with ``trusted_hosts`` = the trusted proxies (never
  its default of 127.0.0.1) and rewrites the client address and scheme from a trusted proxy's headers.

``serve`` therefore starts uvicorn with its own proxy handling off (``uvicorn_proxy_options``): uvicorn's
server-level middleware would rewrite the client before the app sees it, and SSO must know the proxy's
address, not the forwarded client's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from payoutwatch.config import WebSettings

DIRECT_PEER = "payoutwatch.direct_peer"
FORWARDED_HEADERS = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-real-ip", b"forwarded")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(web: WebSettings) -> list[Network]:
    """The networks whose peers may set forwarded and SSO headers (none without ``web.sso``)."""
    if web.sso is None:
        return []
    return [ipaddress.ip_network(net, strict=False) for net in web.sso.trusted_proxies]


def is_trusted(host: str | None, networks: list[Network]) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a unix socket or a test client's made-up name: never a proxy
    return any(address in net for net in networks)


class PeerGate:
    """Records the direct peer; strips forwarded and SSO headers unless that peer is a trusted proxy."""

    def __init__(self, app: ASGIApp, *, networks: list[Network], sso_headers: list[str]) -> None:
        self.app = app
        self.networks = networks
        self.dropped = frozenset(FORWARDED_HEADERS) | {h.lower().encode("latin-1") for h in sso_headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            host = client[0] if client else None
            scope[DIRECT_PEER] = host
            if not is_trusted(host, self.networks):
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in self.dropped]
        await self.app(scope, receive, send)


def install_proxy_trust(app: FastAPI, web: WebSettings) -> None:
    """Add the gate and uvicorn's proxy-header middleware as the outermost layers (added last, run first)."""
    networks = trusted_networks(web)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[str(n) for n in networks])
    sso_headers = [web.sso.user_header, web.sso.groups_header] if web.sso else []
    app.add_middleware(PeerGate, networks=networks, sso_headers=sso_headers)


def direct_peer_trusted(request: Request, web: WebSettings) -> bool:
    """Whether the address that connected (not the one a proxy forwarded) is a trusted proxy."""
    return is_trusted(request.scope.get(DIRECT_PEER), trusted_networks(web))


def uvicorn_proxy_options(web: WebSettings) -> dict[str, Any]:
    """uvicorn's proxy settings for ``serve``: its own header rewriting off (the app does it, see above), and
    ``forwarded_allow_ips`` set to the trusted proxies so that no default (127.0.0.1, or the
    ``FORWARDED_ALLOW_IPS`` environment variable) could ever apply."""
    return {"proxy_headers": False, "forwarded_allow_ips": [str(n) for n in trusted_networks(web)]}
