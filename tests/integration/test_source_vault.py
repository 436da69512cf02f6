"""``vault_kv`` against a local server implementing Vault's KV v2 metadata endpoints (LIST and GET).
The server records every path: reading secret data (``/v1/<mount>/data/...``) fails the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from payoutwatch.metrics import compute
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc

pytestmark = pytest.mark.integration
TOKEN = "hvs.TEST-TOKEN-VALUE"
NOW = utc(2026, 11, 26, 12)

SECRETS: dict[str, dict[str, Any]] = {
    "payments/stripe/webhook": {
        "created_time": "2025-01-10T08:00:00.000000Z",
        "current_version": 2,
        "versions": {
            "1": {"created_time": "2025-01-10T08:00:00.000000Z"},
            "2": {"created_time": "2026-06-01T09:30:00.123456Z"},
        },
        "custom_metadata": {
            "kind": "webhook_signing_secret",
            "owner": "payments-engineering",
            "rotate-by": "2026-12-10",
        },
    },
    "payments/psp/api-key": {
        "created_time": "2026-10-01T00:00:00Z",
        "current_version": 1,
        "versions": {"1": {"created_time": "2026-10-01T00:00:00Z"}},
        "custom_metadata": None,
    },
}


class Vault:
    def __init__(self) -> None:
        self.paths: list[str] = []
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self) -> None:
                vault.paths.append(f"{self.command} {self.path}")
                if self.headers.get("X-Vault-Token") != TOKEN:
                    return self.reply(403, {"errors": ["permission denied"]})
                prefix = "/v1/secret/metadata/"
                if not self.path.startswith(prefix):
                    return self.reply(403, {"errors": ["permission denied (metadata policy only)"]})
                path = self.path[len(prefix) :]
                if self.command == "LIST":
                    children = sorted(
                        {
                            k[len(path) :].split("/")[0] + ("/" if "/" in k[len(path) :] else "")
                            for k in SECRETS
                            if k.startswith(path)
                        }
                    )
                    return self.reply(200, {"data": {"keys": children}}) if children else self.reply(404, {})
                meta = SECRETS.get(path)
                return self.reply(200, {"data": meta}) if meta else self.reply(404, {"errors": []})

            do_GET = handle_any  # noqa: N815
            do_LIST = handle_any  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def vault() -> Iterator[Vault]:
    server = Vault()
    yield server
    server.httpd.shutdown()


def test_kv_metadata_becomes_credentials_without_reading_data(store: Engine, vault: Vault) -> None:
    settings = make_settings(
        sources={
            "vault": {
                "type": "vault_kv",
                "url": vault.url,
                "token": TOKEN,
                "path_prefix": "payments",
                "owner": "security",
            }
        }
    )
    result = sync_source(store, settings, "vault", now=lambda: NOW)
    assert result.ok and result.counts == {"credentials": 2}, result.error
    with store.connect() as conn:
        rows = {c["credential_id"]: c for c in compute("credentials", conn, NOW, settings)["credentials"]}
    hook = rows["secret/payments/stripe/webhook"]
    assert (hook["kind"], hook["owner"], hook["created_at"], hook["due_at"], hook["stage"]) == (
        "webhook_signing_secret",
        "payments-engineering",
        "2026-06-01T09:30:00.123456Z",
        "2026-12-10T00:00:00Z",
        "14d",
    )
    key = rows["secret/payments/psp/api-key"]
    assert (key["kind"], key["owner"], key["due_at"]) == ("other", "security", None)
    assert all("/metadata/" in p for p in vault.paths) and not any("/data/" in p for p in vault.paths)
    assert {p.split()[0] for p in vault.paths} == {"LIST", "GET"}


def test_a_refused_token_fails_at_once_and_is_never_shown(store: Engine, vault: Vault) -> None:
    settings = make_settings(
        sources={"vault": {"type": "vault_kv", "url": vault.url, "token": "hvs.WRONG-TOKEN", "path_prefix": "payments"}}
    )
    waits: list[float] = []
    result = sync_source(store, settings, "vault", now=lambda: NOW, sleep=waits.append)
    assert "refused the token (HTTP 403)" in str(result.error) and waits == []
    assert "WRONG-TOKEN" not in str(result.error)
