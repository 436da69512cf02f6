"""Slack interactivity (mounted at ``/webhooks/slack``): a button under an alert message, pressed in Slack.

Verification follows Slack's scheme: ``X-Slack-Signature`` is ``v0=`` and the hex HMAC-SHA256 of
``v0:<X-Slack-Request-Timestamp>:<raw body>`` under the app's signing secret; any configured secret
(several while rolling) may match, and a timestamp more than 5 minutes from the clock is refused.
Refusals are audited like the Stripe webhook's (``slack_webhook_refused``, aggregated per cause and minute).

The body is form-encoded with one ``payload`` field, a ``block_actions`` JSON document: ``user.id``,
``actions[0].action_id`` / ``.value`` (the action and the alert key), ``channel.id`` and
``message.ts`` / ``.text`` / ``.blocks`` (the message to update), ``response_url``.

Who pressed is found from the channel's settings: ``users: {U123: {name: alice, role: ops}}`` first, then
(when ``emails`` is set) the e-mail ``users.info`` answers for that user. The web app checks the role
with DESIGN §10's rules and runs the same use case as its own buttons, as ``slack:<name>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from payoutwatch.notify.channels.base import DeliveryError, post_json
from payoutwatch.notify.channels.slack import SlackChannel
from payoutwatch.notify.channels.slack_interactive import ACTIONS_BLOCK_ID, BUTTON_ACTIONS
from payoutwatch.usecases.webhook_signatures import SignatureError, hmac_hex, signed_by_any
from payoutwatch.vocabulary import Role

TOLERANCE_SECONDS = 300
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Click:
    """One button press on an alert message."""

    user: str
    action: str
    key: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class SlackPerson:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"slack:{self.name}"[:100]  # the audit and history actor columns hold 100 characters


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Slack-Signature`` Slack sends for ``body`` at ``timestamp``."""
    return "v0=" + hmac_hex(secret, f"v0:{timestamp}:".encode() + body)


def verify(body: bytes, timestamp: str | None, signature: str | None, secrets: list[str], *, now: datetime) -> None:
    """Raises ``SignatureError`` unless ``body`` was signed by Slack with one of ``secrets`` within 5 minutes."""
    if not secrets:
        raise SignatureError("no signing secret is configured for this Slack channel", cause="no_secret")
    if not timestamp or not signature or not signature.startswith("v0="):
        raise SignatureError(
            "the X-Slack-Request-Timestamp or X-Slack-Signature header is missing", cause="malformed_header"
        )
    try:
        stamp = int(timestamp)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a number", cause="malformed_header") from None
    if not signed_by_any(f"v0:{stamp}:".encode() + body, secrets, [signature[3:]]):
        raise SignatureError("the signature does not match the signing secret", cause="bad_signature")
    if abs(now.timestamp() - stamp) > TOLERANCE_SECONDS:
        raise SignatureError(f"the timestamp is more than {TOLERANCE_SECONDS} s from now", cause="stale")


def parse_click(body: bytes) -> Click | None:
    """The button press in a ``block_actions`` payload; None for any other interaction (or another button).
    Raises ``ValueError`` for a body that is not a Slack interaction payload."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError):
        raise ValueError("the body is not a form with a JSON payload field") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = [a for a in payload.get("actions") or [] if isinstance(a, dict) and a.get("action_id") in BUTTON_ACTIONS]
    if not actions:
        return None
    message = payload.get("message") or {}
    container = payload.get("container") or {}
    try:
        return Click(
            user=str(payload["user"]["id"]),
            action=str(actions[0]["action_id"]),
            key=str(actions[0]["value"]),
            channel=str((payload.get("channel") or {}).get("id") or container["channel_id"]),
            ts=str(message.get("ts") or container["message_ts"]),
            text=str(message.get("text") or ""),
            blocks=[b for b in message.get("blocks") or [] if isinstance(b, dict)],
        )
    except (KeyError, TypeError):
        raise ValueError("the block_actions payload has no user, action value, channel or message") from None


class SlackApi:
    """The few Web API methods a click needs, at the base of the channel's ``api_url``, with its bot token."""

    def __init__(self, settings: SlackChannel, client: httpx.Client) -> None:
        if settings.bot_token is None:
            raise ValueError("a Slack channel acted on from Slack needs a bot_token")
        self.base = settings.api_url.rsplit("/", 1)[0]
        self.headers = {"Authorization": f"Bearer {settings.bot_token.get_secret_value()}"}
        self.timeout = settings.timeout_seconds
        self.client = client

    def _answer(self, response: httpx.Response, method: str) -> dict[str, Any]:
        answer: dict[str, Any] = response.json()
        if not answer.get("ok", False):
            raise DeliveryError(f"Slack {method} said {answer.get('error', 'unknown_error')}", permanent=True)
        return answer

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        response = post_json(
            self.client, f"{self.base}/{method}", body, f"Slack {method}", headers=self.headers, timeout=self.timeout
        )
        return self._answer(response, method)

    def user_email(self, user: str) -> str | None:
        """The e-mail of Slack user ``user`` (``users.info``; the app needs ``users:read.email``)."""
        try:
            response = self.client.get(
                f"{self.base}/users.info", params={"user": user}, headers=self.headers, timeout=self.timeout
            )
        except httpx.HTTPError:
            raise DeliveryError("Slack users.info unreachable") from None
        email = ((self._answer(response, "users.info").get("user") or {}).get("profile") or {}).get("email")
        return str(email).lower() if email else None

    def update(self, click: Click, text: str, blocks: list[dict[str, Any]]) -> None:
        self.call("chat.update", {"channel": click.channel, "ts": click.ts, "text": text, "blocks": blocks})

    def ephemeral(self, click: Click, text: str) -> None:
        self.call("chat.postEphemeral", {"channel": click.channel, "user": click.user, "text": text})


def person_of(settings: SlackChannel, user: str, api: SlackApi) -> SlackPerson | None:
    """Who Slack user ``user`` is in payoutwatch: the ``users`` map, else their e-mail in ``emails``."""
    if user in settings.users:
        mapped = settings.users[user]
        return SlackPerson(mapped.name, mapped.role)
    if not settings.emails:
        return None
    email = api.user_email(user)
    roles = {address.lower(): role for address, role in settings.emails.items()}
    return SlackPerson(email, roles[email]) if email and email in roles else None


def escape(text: str) -> str:
    """Slack mrkdwn escaping of ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def updated_message(click: Click, note: str, *, closed: bool) -> tuple[str, list[dict[str, Any]]]:
    """The message after an action: its blocks with ``note`` (who did what) added as a context block, and
    without the buttons once the alert is closed; ``text`` (the notification fallback) says it too."""
    kept = [b for b in click.blocks if not (closed and b.get("block_id") == ACTIONS_BLOCK_ID)]
    note_block = {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(note)}]}
    return f"{click.text} — {note}".strip(" —"), [*kept[: MAX_BLOCKS - 1], note_block]
