"""Instants as people read them, across both daylight-saving changes of America/Toronto in 2026 (EDT ends
2026-11-01 06:00 UTC, starts 2026-03-08 07:00 UTC), in the rule texts and the channel messages built on them."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payoutwatch import timefmt
from payoutwatch.clock import iso
from payoutwatch.config import CredentialExpirySettings
from payoutwatch.metrics.credentials import CredentialFigures
from payoutwatch.notify.channels.pagerduty import PagerDuty
from payoutwatch.notify.channels.slack import Slack
from payoutwatch.notify.messages import render
from payoutwatch.rules import credential_expiry
from payoutwatch.timefmt import local, wall_clock
from payoutwatch.vocabulary import Action, Event, RuleId, Transition
from tests.conftest import make_settings, utc

TORONTO = ZoneInfo("America/Toronto")
CHANGE = utc(2026, 11, 1, 6)


def test_the_same_wall_clock_hour_twice_reads_with_its_abbreviation() -> None:
    assert local(CHANGE - timedelta(minutes=30), TORONTO) == "2026-11-01 01:30:00 EDT"
    assert local(CHANGE + timedelta(minutes=30), TORONTO) == "2026-11-01 01:30:00 EST"
    assert local(utc(2026, 3, 8, 6, 59, 59), TORONTO) == "2026-03-08 01:59:59 EST"
    assert local(utc(2026, 3, 8, 7), TORONTO, minutes=True) == "2026-03-08 03:00 EDT"


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(timefmt).failed == 0


def test_iso_text_microseconds_and_absence() -> None:
    assert local("2026-11-25T07:16:46.230612Z", TORONTO) == "2026-11-25 02:16:46 EST"
    assert local("2026-11-25", TORONTO) == "2026-11-25"  # a date is not an instant: shown as it is
    assert local(None, TORONTO) == local("", TORONTO) == "n/a"
    assert wall_clock(CHANGE, TORONTO) == "2026-11-01T01:00:00"


def test_iso_gives_each_instant_its_text_and_refuses_naive_ones_every_time() -> None:
    utc_first = [CHANGE, CHANGE - timedelta(hours=1), CHANGE.astimezone(TORONTO)]
    # 01:00 EST after the change and 01:00 EDT before it: equal as datetimes of one zone, yet an hour apart
    local_first = [CHANGE.astimezone(TORONTO), CHANGE.astimezone(TORONTO).replace(fold=0), CHANGE]
    for order in (utc_first, local_first):
        texts = [iso(instant) for instant in order]
        assert texts == [iso(i) for i in order]
        assert sorted(set(texts)) == ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"]
    assert iso(local_first[1]) == "2026-11-01T05:00:00Z"
    assert iso(CHANGE + timedelta(microseconds=5)) == "2026-11-01T06:00:00.000005Z"
    assert iso(None) is None
    for _ in range(2):  # not remembered as an answer
        with pytest.raises(ValueError, match="no UTC offset"):
            iso(CHANGE.replace(tzinfo=None))


def credential(due_in: timedelta) -> CredentialFigures:
    at = CHANGE
    return CredentialFigures(
        credential_id="rk_live_payouts",
        kind="stripe_restricted_key",
        name="payouts worker",
        owner="security",
        created_at=at - timedelta(days=300),
        due_at=at + due_in,
        days_left=due_in.days,
        age_days=300,
        stage="7d",
        fingerprint=None,
    )


def transition(details: dict[str, object], summary: str) -> Transition:
    return Transition(
        alert_id=1,
        history_id=1,
        key="credential_expiry:rk_live_payouts",
        rule=RuleId.CREDENTIAL_EXPIRY,
        action=Action.FIRED,
        event=Event.REMINDER,
        stage="7d",
        severity="SEV-2",
        owner="security",
        summary=summary,
        details=details,
        episode="e1",
        at=CHANGE - timedelta(minutes=30),
        started_at=CHANGE - timedelta(minutes=30),
    )


def test_rule_texts_and_messages_name_instants_in_the_display_zone() -> None:
    settings = make_settings(channels={"slack": {"type": "slack", "webhook_url": "https://hooks.slack.test/x"}})
    [finding] = credential_expiry.findings(
        [credential(timedelta(days=6, minutes=30))], CredentialExpirySettings(), settings.display_tz
    )
    assert "(2026-11-07 01:30:00 EST)" in finding.summary  # due after the change: standard time
    message = render(transition(finding.details, finding.summary), settings)
    assert ("Due", "2026-11-07 01:30:00 EST") in message.facts
    assert message.at == "2026-11-01T05:30:00Z"  # stored and sent to APIs as ISO UTC
    slack = Slack("slack", settings.channel("slack"), httpx.Client())  # type: ignore[arg-type]
    assert "2026-11-07 01:30:00 EST" in str(slack.payload(message)["blocks"])
    pagerduty_settings = make_settings(channels={"pd": {"type": "pagerduty", "routing_key": "k" * 32}})
    body = PagerDuty("pd", pagerduty_settings.channel("pd"), httpx.Client()).body(message)  # type: ignore[arg-type]
    assert "due 2026-11-07 01:30:00 EST" in str(body["payload"]["custom_details"])
    assert body["payload"]["timestamp"] == "2026-11-01T05:30:00Z"


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), TORONTO])))
def test_clock_iso_is_utc_with_a_z_and_microseconds_only_when_there_are_some(instant: datetime) -> None:
    try:
        as_utc = instant.astimezone(UTC)
    except OverflowError:  # the wall-clock time does not fit once moved to UTC (year 1 or 9999)
        return
    expected = as_utc.isoformat(timespec="microseconds" if as_utc.microsecond else "seconds")
    assert iso(instant) == expected.replace("+00:00", "Z")
