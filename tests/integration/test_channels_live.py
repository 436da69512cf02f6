"""Channels against real local servers: request shapes, retries, and no duplicate tickets."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.usecases.evaluation import deliver, evaluate
from tests.conftest import make_settings, utc
from tests.helpers import failed_run, healthy_rerun, load, manual, snapshot
from tests.integration.servers import ChannelServer

pytestmark = pytest.mark.integration
NOW = utc(2026, 11, 1)
QUIET = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"}


@pytest.fixture
def server() -> Iterator[ChannelServer]:
    with ChannelServer() as s:
        yield s


class SMTPCapture:
    def __init__(self, *, require_auth: bool = False, refuse: str | None = None, tls_context: Any = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Any] = []
        capture = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                if address == refuse:
                    return "550 5.1.1 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                capture.messages.append(
                    (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
                )
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and data.login == b"bot" and data.password == b"s3cret"
            return AuthResult(success=ok)

        with socket.socket() as probe:  # aiosmtpd's controller needs a concrete port to self-check
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if require_auth:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(Handler(), **kwargs)

    def __enter__(self) -> SMTPCapture:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def settings_for(server: ChannelServer, *, jira_version: int = 2, smtp_port: int = 1, **extra: Any) -> Settings:
    email: dict[str, Any] = {
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp_port,
        "from": "pw@example.com",
        "to": ["finance@example.com"],
    }
    email.update(extra.pop("email", {}))
    return make_settings(
        channels={
            "pagerduty": {
                "type": "pagerduty",
                "routing_key": "R" * 32,
                "events_url": f"{server.url}/pagerduty/enqueue",
            },
            "slack-ops": {"type": "slack", "webhook_url": f"{server.url}/slack/ops"},
            "jira": {
                "type": "jira",
                "base_url": f"{server.url}/jira",
                "project": "PAY",
                "api_version": jira_version,
                "email": "bot@example.com",
                "api_token": "t",
            },
            "email-finance": email,
        },
        routes=[
            {"rule": "automation_failure", "channels": ["pagerduty"]},
            {"rule": "fallback_volume", "channels": ["slack-ops", "jira"]},
            {"rule": "reserve_breach", "channels": ["email-finance", "slack-ops"]},
        ],
        web={"base_url": "https://payoutwatch.example.com"},
        **extra,
    )


def fallback_episode(store: Engine, settings: Settings) -> None:
    load(store, settings, "manual_payouts", [manual("a", utc(2026, 3, 6)), manual("b", utc(2026, 3, 7))], NOW)
    evaluate(store, settings, at=utc(2026, 3, 8), now=NOW)
    deliver(store, settings, now=lambda: NOW, retry_now=True)
    evaluate(store, settings, at=utc(2026, 5, 8), now=NOW)
    deliver(store, settings, now=lambda: NOW, retry_now=True)


@pytest.mark.parametrize("version", [2, 3])
def test_fallback_episode_opens_one_ticket_and_comments_on_resolve(
    store: Engine, server: ChannelServer, version: int
) -> None:
    settings = settings_for(server, jira_version=version, schedule=QUIET)
    fallback_episode(store, settings)
    # the resolve comments on the stored ticket key: no second search (DESIGN §6)
    assert [r["kind"] for r in server.jira.requests] == ["search", "create", "comment"]
    created = server.jira.of("create")[0]["body"]["fields"]
    assert created["labels"][:2] == ["payoutwatch", "fallback_volume"] and created["labels"][2].startswith("pw-")
    assert [m["body"]["text"].split("]")[0] for m in server.slack.requests] == ["[FIRING", "[RESOLVED"]
    assert "https://payoutwatch.example.com/alerts/fallback_volume" in str(server.slack.requests[0]["body"])
    assert server.jira.problems == server.slack.problems == []


def test_jira_answering_500_after_creating_never_gets_a_second_ticket(store: Engine, server: ChannelServer) -> None:
    settings = settings_for(server, schedule=QUIET)
    server.jira.faults = [-500]
    fallback_episode(store, settings)
    assert len(server.jira.issues) == 1
    assert [r["kind"] for r in server.jira.requests if r["kind"] != "search"] == ["create", "comment"]


def test_pagerduty_trigger_and_resolve_shapes(store: Engine, server: ChannelServer) -> None:
    settings = settings_for(server)
    failed_run(store, settings, NOW, finished_minute=4)
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 5), now=NOW)
    healthy_rerun(store, settings, NOW, finished_minute=4)
    evaluate(store, settings, at=utc(2026, 3, 5, 12, 5), now=NOW)
    deliver(store, settings, now=lambda: NOW)
    trigger, resolve = (r["body"] for r in server.pd.requests)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "automation_failure:payouts:2026-03-05"
    details = trigger["payload"]["custom_details"]
    assert (details["rule"], details["alert_key"], details["owner"]) == (
        "automation_failure",
        "automation_failure:payouts:2026-03-05",
        "payments-ops",
    )
    assert details["reasons"] == ["run r1 exited 1"]
    assert server.pd.problems == []


def test_reserve_breach_email_has_headers_and_both_parts(store: Engine, server: ChannelServer) -> None:
    with SMTPCapture(require_auth=True) as smtp:
        settings = settings_for(
            server, smtp_port=smtp.port, schedule=QUIET, email={"username": "bot", "password": "s3cret"}
        )
        load(store, settings, "reserve_snapshots", [snapshot("st_a", utc(2026, 3, 1), 500, 1000)], NOW)
        evaluate(store, settings, at=utc(2026, 3, 2), now=NOW)
        report, _ = deliver(store, settings, now=lambda: NOW)
        assert report.errors == []
        [(rcpts, mail)] = smtp.messages
    assert rcpts == ["finance@example.com"]
    assert (mail["X-Payoutwatch-Rule"], mail["X-Payoutwatch-Alert-Key"], mail["X-Payoutwatch-Event"]) == (
        "reserve_breach",
        "reserve_breach:st_a",
        "firing",
    )
    assert {p.get_content_type() for p in mail.walk()} >= {"text/plain", "text/html"}
    assert "5.00 CAD" in mail.get_body(("plain",)).get_content()


def test_a_refused_mailbox_fails_permanently(store: Engine, server: ChannelServer) -> None:
    with SMTPCapture(refuse="finance@example.com") as smtp:
        settings = settings_for(server, smtp_port=smtp.port, schedule=QUIET)
        load(store, settings, "reserve_snapshots", [snapshot("st_a", utc(2026, 3, 1), 500, 1000)], NOW)
        evaluate(store, settings, at=utc(2026, 3, 2), now=NOW)
        report, _ = deliver(store, settings, now=lambda: NOW)
    assert report.failed == 1 and "refused every recipient" in report.errors[0]


def test_a_channel_down_then_up_delivers_exactly_once(store: Engine) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = make_settings(
        channels={
            "pagerduty": {
                "type": "pagerduty",
                "routing_key": "R",
                "events_url": f"http://127.0.0.1:{port}/pagerduty/enqueue",
            }
        },
        routes=[{"rule": "automation_failure", "channels": ["pagerduty"]}],
    )
    failed_run(store, down, NOW, finished_minute=4)
    evaluate(store, down, at=utc(2026, 3, 5, 11, 5), now=NOW)
    for _ in range(2):
        report, _ = deliver(store, down, now=lambda: NOW, retry_now=True)
        assert report.retrying == 1 and "unreachable" in report.errors[0]
    server = ChannelServer()
    server.httpd.server_close()
    from http.server import ThreadingHTTPServer

    server.httpd = ThreadingHTTPServer(("127.0.0.1", port), server._handler())
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        deliver(store, down, now=lambda: NOW, retry_now=True)
        deliver(store, down, now=lambda: NOW, retry_now=True)
        time.sleep(0.1)
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert [r["kind"] for r in server.pd.requests] == ["trigger"]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (no network, no openssl binary)."""
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "payoutwatch test relay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "relay.pem", tmp / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_starttls_with_a_private_ca_and_auth(store: Engine, server: ChannelServer, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with SMTPCapture(require_auth=True, tls_context=context) as smtp:
        settings = settings_for(
            server,
            smtp_port=smtp.port,
            schedule=QUIET,
            email={"starttls": True, "tls_ca_file": str(cert), "username": "bot", "password": "s3cret"},
        )
        load(store, settings, "reserve_snapshots", [snapshot("st_a", utc(2026, 3, 1), 500, 1000)], NOW)
        evaluate(store, settings, at=utc(2026, 3, 2), now=NOW)
        report, _ = deliver(store, settings, now=lambda: NOW)
        assert report.errors == [] and len(smtp.messages) == 1
        untrusted = settings_for(server, smtp_port=smtp.port, schedule=QUIET, email={"starttls": True})
        load(store, untrusted, "reserve_snapshots", [snapshot("st_b", utc(2026, 3, 1), 500, 1000)], NOW)
        evaluate(store, untrusted, at=utc(2026, 3, 2, 1), now=NOW)
        report, _ = deliver(store, untrusted, now=lambda: NOW)
    assert any("certificate not trusted" in e for e in report.errors)
