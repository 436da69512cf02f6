"""A verified Slack button press: who pressed it, whether they may (DESIGN §10, the same checks as the API
and the pages), the same use case as the web app, and the answer in Slack: the message updated in place
(``chat.update``) to say who did what, or an ephemeral refusal only the presser sees."""

from __future__ import annotations

import logging
import re

import httpx

from payoutwatch.notify.channels.base import DeliveryError
from payoutwatch.notify.channels.slack import SlackChannel
from payoutwatch.notify.channels.slack_interactive import SILENCE_ACTION, SILENCE_LENGTH
from payoutwatch.notify.silences import Matcher
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.alert_actions import SilenceRejected, act_on_alert, add_silence
from payoutwatch.usecases.slack_actions import Click, SlackApi, SlackPerson, person_of, updated_message
from payoutwatch.vocabulary import AlertAction
from payoutwatch.web.deps import ActionRefused, check_alert, check_silence
from payoutwatch.web.session import Person
from payoutwatch.web.state import WebState

logger = logging.getLogger("payoutwatch.web")

UNKNOWN_USER = (
    "payoutwatch does not know your Slack user, so it cannot tell what you may do: ask an admin to add you "
    "to this channel's `users` (or your e-mail to its `emails`)."
)


def answer_click(state: WebState, settings: SlackChannel, click: Click, client: httpx.Client) -> None:
    """Act on ``click`` if its presser may, and answer in Slack; a failing Slack API is logged (the action, if
    any, stands: it is in the alert's history)."""
    api = SlackApi(settings, client)
    try:
        person = person_of(settings, click.user, api)
        if person is None:
            api.ephemeral(click, UNKNOWN_USER)
            return
        try:
            note, closed = act(state, person, click)
        except (ActionRefused, AlertNotFound, SilenceRejected) as exc:
            api.ephemeral(click, f"Not done: {exc}")
            return
        text, blocks = updated_message(click, note, closed=closed)
        api.update(click, text, blocks)
    except DeliveryError as exc:
        logger.warning("answering a Slack click on %s failed: %s", click.key, exc)


def act(state: WebState, person: SlackPerson, click: Click) -> tuple[str, bool]:
    """Run the click's use case as ``person``; returns the note for the message and whether the alert is
    closed. Raises ``ActionRefused`` (no right), ``AlertNotFound`` or ``SilenceRejected``."""
    who, now = Person(person.actor, person.role), state.now()
    if click.action == SILENCE_ACTION:
        detail = alert_queries.alert_detail(state.engine, click.key)
        if detail is None:
            raise AlertNotFound(f"no alert with key {click.key!r}")
        matcher = Matcher(key=literal(click.key), owner=str(detail.alert["owner"]))
        check_silence(state, who, matcher)
        added = add_silence(
            state.engine,
            matcher,
            comment=f"silenced from Slack by {person.name}",
            author=who.name,
            now=now,
            length=SILENCE_LENGTH,
        )
        return f"Silenced for 4 h by {person.name} (until {added.ends_at:%Y-%m-%d %H:%M} UTC)", False
    action = AlertAction(click.action)
    check_alert(state, who, click.key)
    act_on_alert(state.engine, state.settings, click.key, action, actor=who.name, now=now, comment="from Slack")
    done = "Acknowledged" if action is AlertAction.ACK else "Resolved"
    return f"{done} by {person.name} at {now:%Y-%m-%d %H:%M} UTC", action is AlertAction.RESOLVE


def literal(key: str) -> str:
    """``key`` as a silence pattern matching exactly itself (glob characters in brackets)."""
    return re.sub(r"([*?\[])", r"[\1]", key)
