"""Fuzzing every other way in (issue 9 "Fuzzing"): dashboards' ``?at=`` (API and pages), silences (API and
page form), job pings (API and CLI) and the Stripe webhook with a valid signature over malformed bodies.

Whatever arrives: no response ≥ 500 and no traceback; a refused input (4xx / exit 1-2) writes nothing;
after an accepted one the store can still be evaluated, shown on every dashboard and reported. The
strategies, the store snapshot and the evaluate-show-report check are the ingest fuzzer's
(``tests.web.test_ingest_fuzz``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import stripe
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Table, func, select
from typer.testing import CliRunner

from payoutwatch.cli import app as cli_app
from payoutwatch.config import Settings
from payoutwatch.metrics import DASHBOARD_NAMES
from payoutwatch.records import RUN_FIGURES
from payoutwatch.rules.registry import rules
from payoutwatch.store.tables import silences, webhook_events
from payoutwatch.usecases.stripe_webhook import HANDLED
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings
from tests.helpers import failed_run
from tests.web.test_ingest_fuzz import (
    FUZZ,
    NOW,
    hostile_instant,
    hostile_int,
    hostile_text,
    row_counts,
    shown_and_reported,
    valid_instant,
)

SECRET = "whsec_fuzz_test_secret"
STAMP = int(NOW.timestamp())
SETTINGS = make_settings(
    web={"secure_cookies": False},
    sources={
        "stripe": {
            "type": "stripe",
            "api_key": "rk_test_fuzz",
            "webhook_secrets": [SECRET],
            "platform_reserve_threshold_cents": 100_000,
        }
    },
)
PAGES = ["/", *(f"/dashboards/{name}" for name in DASHBOARD_NAMES), "/reports/weekly"]


@dataclass
class Site:
    """A seeded store (a failed run and its alert), an admin token for the API and a logged-in page client."""

    store: Engine
    settings: Settings
    app: FastAPI
    api: TestClient
    token: str
    pages: TestClient
    csrf: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def written(self) -> dict[str, int]:
        """The count of every table an input may write: the records, silences and applied webhook events."""
        with self.store.connect() as conn:
            extra = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in _EXTRA}
        return {**row_counts(self.store), **extra}

    def usable(self) -> None:
        shown_and_reported(self.store, self.settings, self.api, self.token)

    def answered(
        self, answer: Response, before: dict[str, int], *, accepted: int, label: str, grows: str | None = None
    ) -> None:
        """Never ≥ 500 nor a traceback; accepted (one more row in ``grows``, and the store still evaluates,
        shows and reports) or refused with nothing written."""
        _refused_clearly(answer.status_code, answer.text)
        event(f"{label}: {answer.status_code}")
        if answer.status_code == accepted:
            if grows is not None:
                assert self.written() == {**before, grows: before[grows] + 1}
            self.usable()
        else:
            assert self.written() == before


_EXTRA: list[Table] = [silences, webhook_events]


@pytest.fixture
def site(store: Engine) -> Iterator[Site]:
    failed_run(store, SETTINGS, NOW)
    with store.begin() as conn:
        _, token = create_token(conn, name="fuzz", role=Role.ADMIN, actor="test", now=NOW)
    app = create_app(SETTINGS, store, now=lambda: NOW)
    pages = TestClient(app)
    assert pages.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    csrf = pages.get("/alerts").text.split('name="csrf" value="')[1].split('"')[0]
    yield Site(store, SETTINGS, app, TestClient(app), token, pages, csrf)


def _sendable(text: str) -> bool:
    """A query or form value an HTTP client can send (a lone surrogate has no UTF-8 bytes)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _refused_clearly(status: int, text: str) -> None:
    assert status < 500, text
    assert "Traceback" not in text and "Internal Server Error" not in text, text


# --- dashboards' ?at= --------------------------------------------------------------------------------

at_values = st.one_of(
    valid_instant,
    hostile_instant.map(str),
    hostile_text,
    st.sampled_from(
        [
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
            "2026-03-20T12:00:00\x00Z",
            "2026-03-20T12:00:00+99:00",
            "9" * 8000,
            "2026-03-20T12:00:00Z" * 300,
        ]
    ),
    st.text(max_size=40),
).filter(_sendable)


@FUZZ
@given(at=at_values)
def test_fuzzed_at_on_every_dashboard_answers_a_figure_or_a_clear_4xx(site: Site, at: str) -> None:
    before = site.written()
    for name in DASHBOARD_NAMES:
        answer = site.api.get(f"/api/v1/dashboards/{name}", params={"at": at}, headers=site.auth)
        _refused_clearly(answer.status_code, answer.text)
        assert answer.status_code in (200, 422), answer.text
        if answer.status_code == 422:
            assert "at " in answer.json()["detail"]
        event(f"api: {answer.status_code}")
    for path in PAGES:
        page = site.pages.get(path, params={"at": at})
        _refused_clearly(page.status_code, page.text)
        assert page.status_code in (200, 400), (path, page.text)
        event(f"page: {page.status_code}")
    assert site.written() == before


# --- silences ----------------------------------------------------------------------------------------

RULES = [r.id.value for r in rules()]
rule_names = st.one_of(st.sampled_from([*RULES, "reserve_*", "reserv_breach", "nope"]), hostile_text, st.none())
matcher_text = st.one_of(st.sampled_from(["reserve_breach:platform", "finance", "x" * 301]), hostile_text, st.none())
hours = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2, 2160, 2161, 10**30, 2**70]),
    hostile_int,
)
comments = st.one_of(st.sampled_from(["maintenance", "c" * 2000, "c" * 2001, "   "]), hostile_text)
silence_instant = st.one_of(valid_instant, hostile_instant, st.sampled_from(["9999-12-31T23:00:00Z", None]))


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {"comment": comments},
        optional={
            "rule": rule_names,
            "key": matcher_text,
            "owner": matcher_text,
            "hours": hours,
            "starts_at": silence_instant,
            "ends_at": silence_instant,
        },
    )
)
def test_fuzzed_silences_through_the_api_are_added_or_refused_whole(site: Site, body: dict[str, Any]) -> None:
    before = site.written()
    answer = site.api.post(
        "/api/v1/silences", content=json.dumps(body), headers={**site.auth, "Content-Type": "application/json"}
    )
    assert answer.status_code in (201, 422), answer.text
    site.answered(answer, before, accepted=201, label="api silence", grows="silences")


@FUZZ
@given(
    form=st.fixed_dictionaries(
        {"comment": comments.map(str).filter(_sendable)},
        optional={
            "rule": rule_names.map(lambda v: v or "").filter(_sendable),
            "key": matcher_text.map(lambda v: v or "").filter(_sendable),
            "owner": matcher_text.map(lambda v: v or "").filter(_sendable),
            "hours": st.one_of(hours.map(str), st.sampled_from(["NaN", "Infinity", "-inf", "1e400", "two", ""])),
        },
    )
)
def test_fuzzed_silences_through_the_page_form_are_added_or_refused_whole(site: Site, form: dict[str, str]) -> None:
    before = site.written()
    answer = site.pages.post("/silences", data={"csrf": site.csrf, **form}, follow_redirects=False)
    assert answer.status_code in (303, 422), answer.text
    site.answered(answer, before, accepted=303, label="page silence", grows="silences")


# --- pings -------------------------------------------------------------------------------------------

jobs = st.one_of(st.sampled_from(["payouts", "nightly", "é" * 200, "j" * 201, "tab\tjob"]), hostile_text)
ping_events = st.sampled_from(["start", "success", "fail"])
figure_values = st.one_of(st.integers(0, 10**9), hostile_int, hostile_text, st.none(), st.just([1]))
figures = st.one_of(
    st.dictionaries(st.sampled_from([*RUN_FIGURES, "studios"]), figure_values, max_size=3),
    st.sampled_from([[1, 2], "studios", 5]),
)
run_ids = st.one_of(st.none(), st.sampled_from(["run-1", "r" * 201]), hostile_text)


@FUZZ
@given(
    job=jobs.filter(_sendable),
    what=ping_events,
    body=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {}, optional={"run_id": run_ids, "exit_code": st.one_of(hostile_int, st.integers()), "figures": figures}
        ),
    ),
)
def test_fuzzed_api_pings_record_a_run_or_are_refused_whole(
    site: Site, job: str, what: str, body: dict[str, Any] | None
) -> None:
    before = site.written()
    content = None if body is None else json.dumps(body)
    answer = site.api.post(
        f"/api/v1/ping/{quote(job, safe='')}/{what}",
        content=content,
        headers={**site.auth, "Content-Type": "application/json"},
    )
    assert answer.status_code in (200, 404, 422), answer.text
    site.answered(answer, before, accepted=200, label="api ping")


runner = CliRunner()
FEWER = settings(FUZZ, max_examples=25)  # slower examples: a CLI run opens the store; a webhook is audited


@FEWER
@given(
    job=jobs.filter(lambda j: "\x00" not in j and _sendable(j)),  # an operating system's argv cannot carry NUL
    what=st.one_of(ping_events, st.sampled_from(["finish", "succes", ""])),
    exit_code=st.one_of(st.none(), st.sampled_from([0, 3, 2**31, -(2**31) - 1, 2**70])),
    figures_text=st.one_of(st.none(), figures.map(json.dumps), st.sampled_from(["{not json", "9" * 5000])),
)
def test_fuzzed_cli_pings_exit_with_a_message_and_never_a_traceback(
    site: Site, tmp_path: Path, job: str, what: str, exit_code: int | None, figures_text: str | None
) -> None:
    config = tmp_path / "payoutwatch.yaml"
    if not config.exists():
        url = site.store.url.render_as_string(hide_password=False)
        config.write_text(yaml.safe_dump({"store": {"url": url}, "schedule": {"start": "2026-03-05"}}))
    argv = ["--config", str(config), "ping", job, what]
    if exit_code is not None:
        argv += ["--exit-code", str(exit_code)]
    if figures_text is not None:
        argv += ["--figures", figures_text]
    before = site.written()
    result = runner.invoke(cli_app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output, result.output
    event(f"cli ping: exit {result.exit_code}")
    if result.exit_code == 0:
        site.usable()
    else:
        assert result.output.strip(), "a refusal says why"
        assert site.written() == before


# --- the Stripe webhook, validly signed --------------------------------------------------------------

hostile_number = st.one_of(hostile_int, st.sampled_from(["12", None, [1], {"a": 1}, 10**15, 0, 100]))
amounts = st.one_of(st.integers(0, 10**7), st.integers(0, 10**7), hostile_number)
stripe_object = st.fixed_dictionaries(
    {
        "id": st.one_of(st.sampled_from(["tr_1", "po_1", "tr_2"]), hostile_text, hostile_int),
        "amount": amounts,
        "currency": st.sampled_from(["cad", "cad", "CAD", "usd", 5, None, "c" * 300]),
        "created": st.one_of(st.just(STAMP), hostile_number),
    },
    optional={
        "amount_reversed": amounts,
        "status": st.sampled_from(["paid", "failed", "canceled", 7]),
        "reversed": st.one_of(st.booleans(), hostile_number),
        "destination": st.one_of(st.just("acct_1"), hostile_text),
        "metadata": st.one_of(st.just({"payout_id": "p_1"}), st.just("meta"), st.just({"payout_id": "p" * 300})),
        "available": st.one_of(
            st.just([{"amount": 5, "currency": "cad"}]),
            st.lists(st.fixed_dictionaries({"amount": hostile_number, "currency": st.just("cad")}), max_size=2),
            st.just("none"),
        ),
    },
)


@st.composite
def stripe_event(draw: st.DrawFn) -> bytes:
    """A well-formed event about one object, then (most times) one of its top-level fields made hostile."""
    body: dict[str, Any] = {
        "id": draw(st.one_of(st.integers(1, 10**9).map(lambda n: f"evt_{n}"), st.just("e" * 255))),
        "type": draw(st.sampled_from(sorted(HANDLED))),
        "created": STAMP,
        "data": {"object": draw(stripe_object)},
    }
    broken = draw(st.sampled_from(["", "", "id", "type", "created", "data", "account", "object"]))
    hostile: dict[str, st.SearchStrategy[Any]] = {
        "id": st.one_of(hostile_text, hostile_int, st.just("e" * 256), st.none()),
        "type": st.sampled_from(["charge.created", "t" * 101, 5, None]),
        "created": hostile_number,
        "data": st.sampled_from(["data", None, {}, {"object": []}]),
        "account": st.sampled_from([None, "acct_other", 5]),
    }
    if broken == "object":
        del body["data"]["object"]
    elif broken:
        body[broken] = draw(hostile[broken])
    return json.dumps(body).encode()


stripe_bodies = st.one_of(
    stripe_event(),
    st.sampled_from(
        [
            b"{not json",
            b"[1, 2]",
            b'"evt"',
            b"\xff\xfe",
            b"[" * 50_000 + b"]" * 50_000,
            b'{"id": "evt_deep", "type": "payout.paid", "data": ' * 3000 + b"1" + b"}" * 3000,
            b"9" * 5000,
        ]
    ),
)


def signed(body: bytes) -> str:
    """The Stripe-Signature header for ``body`` at the app's clock, computed by stripe-python's helper."""
    signature = stripe.WebhookSignature._compute_signature(f"{STAMP}.{body.decode('utf-8', 'replace')}", SECRET)
    return f"t={STAMP},{stripe.WebhookSignature.EXPECTED_SCHEME}={signature}"


senders = itertools.count(1)


@FUZZ
@given(body=stripe_bodies)
def test_fuzzed_signed_stripe_events_are_applied_ignored_or_refused_whole(site: Site, body: bytes) -> None:
    before = site.written()
    sender = next(senders)  # each from its own address: refusals are rate-limited per address (429)
    client = TestClient(site.app, client=(f"198.51.{sender // 250 % 250}.{sender % 250 + 1}", 5000))
    answer = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": signed(body)})
    assert answer.status_code in (200, 400, 422), answer.text
    site.answered(answer, before, accepted=200, label="stripe")


@pytest.mark.parametrize("amount", ["12", 12.5, True, 10**15 + 1, -5])
def test_a_signed_transfer_with_an_amount_that_is_not_a_bounded_integer_is_refused_whole(
    site: Site, amount: Any
) -> None:
    obj = {"id": "tr_str", "amount": amount, "currency": "cad", "created": STAMP}
    body = json.dumps({"id": "evt_str", "type": "transfer.created", "data": {"object": obj}}).encode()
    before = site.written()
    answer = site.api.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": signed(body)})
    assert answer.status_code == 422 and "amount" in answer.text, answer.text
    assert site.written() == before
