"""What a bot-token Slack channel needs to be acted on from Slack: the buttons under each alert message and
who a Slack user is in payoutwatch. The clicks come back to ``POST /webhooks/slack`` (``usecases.slack_actions``).

Each button's ``action_id`` names the action and its ``value`` is the alert key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from payoutwatch.config import Strict
from payoutwatch.vocabulary import AlertAction, Role

SILENCE_ACTION = "silence_4h"
SILENCE_LENGTH = timedelta(hours=4)
BUTTON_ACTIONS = (AlertAction.ACK.value, AlertAction.RESOLVE.value, SILENCE_ACTION)
ACTIONS_BLOCK_ID = "payoutwatch_actions"


class SlackUser(Strict):
    """A Slack user id's payoutwatch person (audited as ``slack:<name>``) and role."""

    name: str
    role: Role


def action_block(key: str, runbook_url: str | None = None) -> dict[str, Any]:
    """An ``actions`` block: Acknowledge, Resolve, "Silence 4 h" (each with the alert key as its value) and,
    when the rule has one, a link button to the runbook."""

    def button(action_id: str, label: str, **extra: str) -> dict[str, Any]:
        text = {"type": "plain_text", "text": label}
        return {"type": "button", "action_id": action_id, "text": text, "value": key[:2000], **extra}

    elements = [
        button(AlertAction.ACK.value, "Acknowledge"),
        button(AlertAction.RESOLVE.value, "Resolve", style="primary"),
        button(SILENCE_ACTION, "Silence 4 h"),
    ]
    if runbook_url:
        elements.append(
            {
                "type": "button",
                "action_id": "runbook",
                "text": {"type": "plain_text", "text": "Runbook"},
                "url": runbook_url,
            }
        )
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}
