"""Alerts that explain themselves (issue 12, point 7): the summary leads with the most serious reason, and
every message (Slack, PagerDuty, Jira, e-mail) carries the figures behind the alert with their limits, the
owner and ``rules.<rule>.runbook_url``."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from payoutwatch.config import parse_settings
from payoutwatch.notify.channels import build_channel
from payoutwatch.notify.channels.email import compose
from payoutwatch.notify.channels.pagerduty import PagerDuty
from payoutwatch.notify.messages import Message, figures, render, runbook_of
from payoutwatch.vocabulary import Action, Event, Transition
from tests.unit.test_channel_oracles import AT, email_settings, jira, slack_payload
from tests.unit.test_rules import CYCLE, a_run, failing

TORONTO = ZoneInfo("America/Toronto")
RUNBOOK = "https://wiki.example.com/runbooks/payouts-failed"
SETTINGS = parse_settings(
    {"web": {"base_url": "https://pw.example.com"}, "rules": {"automation_failure": {"runbook_url": RUNBOOK}}}
)


def failed_cycle_message() -> Message:
    """The demo's 2026-11-05 cycle: the run exited 1 after processing 170 of 300 studios."""
    run = a_run("run_20261105", CYCLE, minutes=11, exit_code=1, scheduled=300, processed=170)
    [finding] = failing([run], CYCLE + timedelta(hours=1))
    transition = Transition(
        alert_id=1,
        history_id=1,
        key=finding.key,
        rule=finding.rule,
        action=Action.FIRED,
        event=Event.FIRING,
        stage=None,
        severity=finding.severity,
        owner=finding.owner,
        summary=finding.summary,
        details=finding.details,
        episode="pw-0123456789abcdef",
        at=AT,
        started_at=AT,
    )
    return render(transition, SETTINGS)


FIGURES = ["Exit code", "1", "11m 0s (limit 30 min)", "170 of 300", "56.67% (minimum 90.00%)"]


def test_the_message_leads_with_the_exit_and_lists_the_figures_with_limits() -> None:
    msg = failed_cycle_message()
    assert msg.summary.endswith("needs attention: run run_20261105 exited 1 (and 1 more reason)")
    assert msg.reasons == ["run run_20261105 exited 1", "run run_20261105 processed 170 of 300 studios (57% < 90%)"]
    facts = dict(msg.facts)
    assert facts["Owner"] == "payments-ops"
    assert facts["Exit code"] == "1" and facts["Duration"] == "11m 0s (limit 30 min)"
    assert facts["Studios processed"] == "170 of 300" and facts["Processed ratio"] == "56.67% (minimum 90.00%)"
    assert msg.runbook_url == RUNBOOK == runbook_of(SETTINGS, "automation_failure")
    assert runbook_of(SETTINGS, "fallback_volume") is None


def test_every_channel_carries_figures_owner_and_runbook() -> None:
    msg = failed_cycle_message()
    slack = json.dumps(slack_payload(msg))
    pagerduty = build_channel(
        "p", parse_settings({"channels": {"p": {"type": "pagerduty", "routing_key": "k" * 32}}}).channel("p"), None
    )
    assert isinstance(pagerduty, PagerDuty)
    pd_body = pagerduty.body(msg)
    channel, seen = jira(3)
    channel.create_ticket(msg)
    jira_body = seen[0].content.decode()
    mail = compose(msg, email_settings(), AT)
    mail_text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    mail_html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for name, text in (("slack", slack), ("pagerduty", json.dumps(pd_body)), ("jira", jira_body)):
        for figure in FIGURES:
            assert figure in text, (name, figure)
        assert "payments-ops" in text and RUNBOOK in text, name
    for text in (mail_text, mail_html):
        assert all(figure in text for figure in FIGURES) and "payments-ops" in text and RUNBOOK in text
    assert pd_body["payload"]["summary"].endswith("needs attention: run run_20261105 exited 1 (and 1 more reason)")
    assert pd_body["payload"]["custom_details"]["owner"] == "payments-ops"


def test_figures_of_a_rule_without_limits_and_of_an_unknown_detail() -> None:
    details = {"account_id": "st_1", "balance_cents": 177400, "threshold_cents": 181000, "projected_at": AT.isoformat()}
    shown = figures("reserve_breach", details, "CAD", TORONTO)
    assert shown == [
        ("Account", "st_1"),
        ("Balance", "1,774.00 CAD"),
        ("Threshold", "1,810.00 CAD"),
        ("Projected at", "2026-03-05 06:33:00 EST"),
    ]
    assert figures("fallback_volume", {"manual_payout_count": 5}, "CAD", TORONTO) == [("Manual payouts in window", "5")]
