"""Jira's ticket key is stored with the episode and used for the resolve comment (DESIGN §6, issue 11 point 8).

The stand-in behaves like Jira Cloud's ``search/jql``: eventually consistent, so a search right after a
create does not see the new ticket yet.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import Engine, select

from payoutwatch.store.tables import notifications
from payoutwatch.usecases.evaluation import deliver, evaluate
from tests.conftest import make_settings, utc
from tests.helpers import load, manual

NOW = utc(2026, 11, 1)
NO_CYCLES = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"}
JIRA = {
    "type": "jira",
    "base_url": "https://acme.atlassian.net",  # API 3, the eventually consistent search
    "project": "PAY",
    "email": "bot@example.com",
    "api_token": "tok",
}


class EventuallyConsistentJira:
    """Creates tickets; its search sees a ticket only after ``visible_after`` further searches."""

    def __init__(self, *, visible_after: int = 1_000, lose_first_create_answer: bool = False) -> None:
        self.tickets: dict[str, list[str]] = {}
        self.comments: list[str] = []
        self.searches = 0
        self.visible_after = visible_after
        self.lose_answer = lose_first_create_answer
        self.seen_by_search: dict[str, int] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/rest/api/3/search/jql":
            self.searches += 1
            jql = request.url.params["jql"]
            hits = []
            for key, labels in self.tickets.items():
                self.seen_by_search[key] = self.seen_by_search.get(key, 0) + 1
                if self.seen_by_search[key] > self.visible_after and any(f'"{lab}"' in jql for lab in labels):
                    hits.append({"id": "1", "key": key})
            return httpx.Response(200, json={"issues": hits, "isLast": True})
        if request.method == "POST" and path == "/rest/api/3/issue":
            key = f"PAY-{len(self.tickets) + 1}"
            self.tickets[key] = json.loads(request.content)["fields"]["labels"]
            if self.lose_answer:
                self.lose_answer = False
                raise httpx.ReadTimeout("the create answer was lost", request=request)
            return httpx.Response(201, json={"id": "1", "key": key})
        if request.method == "POST" and path.endswith("/comment"):
            self.comments.append(path.split("/")[-2])
            return httpx.Response(201, json={"id": "1"})
        return httpx.Response(404, json={})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


def fire_and_clear(store: Engine, jira: EventuallyConsistentJira, *, between: int = 1) -> list[Any]:
    settings = make_settings(
        schedule=NO_CYCLES, channels={"jira": JIRA}, routes=[{"rule": "fallback_volume", "channels": ["jira"]}]
    )
    load(store, settings, "manual_payouts", [manual("a", utc(2026, 3, 6)), manual("b", utc(2026, 3, 7))], NOW)
    evaluate(store, settings, at=utc(2026, 3, 8), now=NOW)
    for _ in range(between):  # the firing, then any retries
        deliver(store, settings, now=lambda: NOW, retry_now=True, client=jira.client())
    [cleared] = evaluate(store, settings, at=utc(2026, 5, 1), now=NOW)
    assert cleared.event is not None and cleared.event.value == "resolved"
    deliver(store, settings, now=lambda: NOW, client=jira.client())
    with store.connect() as conn:
        n = notifications.c
        return list(conn.execute(select(n.event, n.state, n.remote_ref).order_by(n.id)))


def test_the_resolve_comments_on_the_stored_ticket_though_the_search_does_not_see_it(store: Engine) -> None:
    jira = EventuallyConsistentJira()  # never visible to the search during this test
    rows = fire_and_clear(store, jira)
    assert list(jira.tickets) == ["PAY-1"]
    assert jira.comments == ["PAY-1"]
    assert jira.searches == 1  # before the create; the resolve used the stored key
    assert [tuple(r) for r in rows] == [("firing", "sent", "PAY-1"), ("resolved", "sent", "PAY-1")]


def test_a_lost_create_answer_is_recovered_by_the_label_search_once_it_sees_the_ticket(store: Engine) -> None:
    jira = EventuallyConsistentJira(visible_after=0, lose_first_create_answer=True)
    rows = fire_and_clear(store, jira, between=2)
    assert list(jira.tickets) == ["PAY-1"]  # the retry found the ticket instead of opening a second
    assert jira.comments == ["PAY-1"]
    assert [tuple(r) for r in rows] == [("firing", "sent", "PAY-1"), ("resolved", "sent", "PAY-1")]
