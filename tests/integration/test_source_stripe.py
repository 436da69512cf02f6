"""``stripe``: stripe-python against a local server serving Stripe-shaped lists (has_more /
starting_after), and webhooks signed exactly as Stripe signs them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import stripe
from sqlalchemy import Engine, func, select

from payoutwatch.metrics import compute
from payoutwatch.store.tables import audit_log, reserve_snapshots, transfers
from payoutwatch.usecases.stripe_webhook import SignatureError, handle, sign
from payoutwatch.usecases.syncing import source_states, sync_source
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

pytestmark = pytest.mark.integration
KEY = "rk_test_PAYOUTWATCHREADONLY"
NOW_TS = int(time.time())  # Stripe's own signature check reads the clock
NOW = datetime.fromtimestamp(NOW_TS, UTC)  # the instant the sync passes to the source
TRANSFERS = [  # newest first, as Stripe lists them
    {
        "id": f"tr_{i}",
        "object": "transfer",
        "amount": 1000 * i,
        "currency": "cad" if i != 3 else "usd",
        "created": NOW_TS - 100 * (10 - i),
        "destination": f"acct_{i}",
        "reversed": i == 2,
        "amount_reversed": 0,
        "metadata": {"payout_id": f"po_ledger_{i}"},
    }
    for i in range(5, 0, -1)
]
MIDNIGHT = NOW_TS - NOW_TS % 86400
BALANCE_TRANSACTIONS = [  # newest first: +30.00 available since this morning, -100.00 since yesterday morning
    {
        "id": "txn_2",
        "object": "balance_transaction",
        "amount": 3000,
        "net": 3000,
        "currency": "cad",
        "created": MIDNIGHT + 3600,
        "available_on": MIDNIGHT + 3600,
        "status": "available",
    },
    {
        "id": "txn_1",
        "object": "balance_transaction",
        "amount": -10000,
        "net": -10000,
        "currency": "cad",
        "created": MIDNIGHT - 80000,
        "available_on": MIDNIGHT - 80000,
        "status": "available",
    },
]
PAYOUTS = [
    {
        "id": "po_1",
        "object": "payout",
        "amount": 5000,
        "currency": "cad",
        "created": NOW_TS - 86400 * 2,
        "status": "failed",
        "metadata": {"payout_id": "po_ledger_9"},
    },
]


def stripe_server(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
    if headers.get("Authorization") != f"Bearer {KEY}":
        return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}, {}
    url = urlparse(path)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if url.path == "/v1/balance":
        return (
            200,
            {
                "object": "balance",
                "available": [{"amount": 250_000_00, "currency": "cad"}, {"amount": 7, "currency": "usd"}],
                "pending": [],
            },
            {},
        )
    objects = {
        "/v1/transfers": TRANSFERS,
        "/v1/payouts": PAYOUTS,
        "/v1/balance_transactions": BALANCE_TRANSACTIONS,
    }.get(url.path)
    if objects is None:
        return 404, {"error": {"message": "no such route"}}, {}
    rows = [
        o
        for o in objects
        if o["created"] > int(query.get("created[gt]", -1)) and o["created"] >= int(query.get("created[gte]", -1))
    ]
    if "starting_after" in query:
        ids = [o["id"] for o in rows]
        rows = rows[ids.index(query["starting_after"]) + 1 :]
    size = min(int(query.get("limit", 10)), 2)  # small pages, so pagination is exercised
    return 200, {"object": "list", "url": url.path, "has_more": len(rows) > size, "data": rows[:size]}, {}


@pytest.fixture
def server() -> Any:
    s = JsonServer(stripe_server)
    yield s
    s.close()


def test_transfers_payouts_and_balance_are_pulled_page_by_page(store: Engine, server: JsonServer) -> None:
    settings = make_settings(
        sources={
            "stripe": {
                "type": "stripe",
                "api_key": KEY,
                "api_base": server.url,
                "platform_reserve_threshold_cents": 100_000_00,
                "balance_history_days": 3,
            }
        }
    )
    result = sync_source(store, settings, "stripe", now=lambda: NOW)
    assert result.ok, result.error
    # 4 CAD transfers + 1 payout (USD skipped); the balance now + 3 rebuilt end-of-day balances
    assert result.counts == {"transfers": 5, "reserve_snapshots": 4}
    with store.connect() as conn:
        rows = {r.transfer_id: r for r in conn.execute(select(transfers))}
        [state] = source_states(conn)
        platform = compute("reserves", conn, utc(2030, 1, 1), settings)["platform"]
    assert rows["tr_2"].reversed and not rows["tr_4"].reversed and rows["po_1"].reversed  # the failed payout
    assert rows["tr_5"].payout_id == "po_ledger_5" and rows["tr_5"].amount_cents == 5000
    assert state.cursor["transfers_created"] == TRANSFERS[0]["created"]
    assert platform["balance_cents"] == 250_000_00 and platform["threshold_cents"] == 100_000_00
    with store.connect() as conn:
        history = dict(conn.execute(select(reserve_snapshots.c.as_of, reserve_snapshots.c.balance_cents)).all())
    midnight = datetime.fromtimestamp(MIDNIGHT, UTC)
    assert history[midnight] == 250_000_00 - 3000  # before this morning's +30.00
    assert history[midnight - timedelta(days=1)] == 250_000_00 - 3000 + 10000  # before yesterday's -100.00
    starting_after = [p for m, p in server.requests if "starting_after" in p]
    assert starting_after, "auto-pagination should have asked for a second page"
    before = len(server.requests)
    assert sync_source(store, settings, "stripe", now=lambda: NOW).ok
    again = [p for _, p in server.requests[before:] if p.startswith("/v1/transfers")]
    assert again and f"created[gt]={TRANSFERS[0]['created']}" in again[0]


def test_a_refused_key_fails_at_once_without_showing_it(store: Engine, server: JsonServer) -> None:
    settings = make_settings(
        sources={"stripe": {"type": "stripe", "api_key": "rk_test_WRONGKEY1234", "api_base": server.url}}
    )
    waits: list[float] = []
    result = sync_source(store, settings, "stripe", now=lambda: NOW, sleep=waits.append)
    assert "refused the API key" in str(result.error) and "WRONGKEY" not in str(result.error) and waits == []


SECRET, OLD_SECRET = "whsec_current_0123456789", "whsec_previous_9876543210"


def event(event_id: str, kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "created": NOW_TS, "data": {"object": obj}}
    ).encode()


def webhook_settings() -> Any:
    return make_settings(
        sources={
            "stripe": {
                "type": "stripe",
                "api_key": KEY,
                "webhook_secrets": [SECRET],
                "platform_reserve_threshold_cents": 1,
            }
        }
    )


def test_our_signatures_are_stripes_signatures() -> None:
    payload = event("evt_1", "transfer.created", TRANSFERS[0])
    signed_at = int(time.time())  # Stripe checks against the clock now, not when the module was imported
    header = f"t={signed_at},v1={sign(payload, SECRET, signed_at)}"
    assert stripe.Webhook.construct_event(payload.decode(), header, SECRET)["id"] == "evt_1"


def test_a_signed_event_is_applied_once(store: Engine) -> None:
    settings = webhook_settings()
    payload = event("evt_1", "transfer.reversed", {**TRANSFERS[1], "reversed": True})
    header = f"t={NOW_TS},v1={sign(payload, SECRET, NOW_TS)}"
    first = handle(store, settings, "stripe", payload, header, now=first_now())
    again = handle(store, settings, "stripe", payload, header, now=first_now())
    assert (first.applied, first.records, again.applied) == (True, 1, False)
    with store.connect() as conn:
        row = conn.execute(select(transfers).where(transfers.c.transfer_id == "tr_4")).one()
    assert row.reversed


def first_now() -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW_TS + 5, UTC)


def test_during_a_secret_roll_any_matching_v1_is_accepted(store: Engine) -> None:
    payload = event("evt_2", "payout.failed", PAYOUTS[0])
    header = f"t={NOW_TS},v1={sign(payload, OLD_SECRET, NOW_TS)},v1={sign(payload, SECRET, NOW_TS)}"
    assert handle(store, webhook_settings(), "stripe", payload, header, now=first_now()).records == 1


@pytest.mark.parametrize(
    "header,reason",
    [
        (lambda p: f"t={NOW_TS},v1={sign(p, 'whsec_attacker', NOW_TS)}", "no v1 signature matches"),
        (lambda p: f"t={NOW_TS - 301},v1={sign(p, SECRET, NOW_TS - 301)}", "older than the 300 s tolerance"),
        (lambda p: f"v1={sign(p, SECRET, NOW_TS)}", "no timestamp"),
        (lambda p: None, "no timestamp or no v1"),
    ],
)
def test_bad_or_stale_signatures_are_refused_recorded_and_never_ingested(
    store: Engine, header: Any, reason: str
) -> None:
    payload = event("evt_3", "transfer.created", TRANSFERS[0])
    with pytest.raises(SignatureError, match=reason):
        handle(store, webhook_settings(), "stripe", payload, header(payload), now=first_now())
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(transfers)).scalar() == 0
        [refusal] = conn.execute(select(audit_log).where(audit_log.c.action == "stripe_webhook_refused")).all()
    assert reason.split()[0] in refusal.details["reason"]


# Objects shaped as in Stripe's fixtures3.json (stripe/openapi): every field the API returns, not a hand-picked few.
def official_payout(payout_id: str, status: str, amount: int = 1100) -> dict[str, Any]:
    return {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": NOW_TS + 86400,
        "automatic": True,
        "balance_transaction": "txn_1PayoutBalanceTxn",
        "created": NOW_TS - 60,
        "currency": "cad",
        "description": None,
        "destination": "ba_1BankAccount",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {"payout_id": "p_ledger_canceled"},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "trace_id": None,
        "type": "bank_account",
    }


def official_transfer(transfer_id: str, amount: int, amount_reversed: int) -> dict[str, Any]:
    reversals = [
        {
            "id": "trr_1Partial",
            "object": "transfer_reversal",
            "amount": amount_reversed,
            "balance_transaction": "txn_1ReversalTxn",
            "created": NOW_TS - 30,
            "currency": "cad",
            "destination_payment_refund": None,
            "metadata": {},
            "source_refund": None,
            "transfer": transfer_id,
        }
    ]
    return {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": amount_reversed,
        "balance_transaction": "txn_1TransferTxn",
        "created": NOW_TS - 120,
        "currency": "cad",
        "description": None,
        "destination": "acct_1Studio",
        "destination_payment": "py_1Destination",
        "livemode": False,
        "metadata": {"payout_id": "p_ledger_partial"},
        "reversals": {
            "object": "list",
            "data": reversals if amount_reversed else [],
            "has_more": False,
            "total_count": 1 if amount_reversed else 0,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": amount_reversed >= amount,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": None,
    }


def signed_by_stripe(payload: bytes, secret: str = SECRET) -> str:
    """The Stripe-Signature header, computed by stripe-python's own WebhookSignature."""
    signature = stripe.WebhookSignature._compute_signature(f"{NOW_TS}.{payload.decode()}", secret)
    return f"t={NOW_TS},{stripe.WebhookSignature.EXPECTED_SCHEME}={signature}"


def deliver(store: Engine, settings: Any, payload: bytes) -> Any:
    return handle(store, settings, "stripe", payload, signed_by_stripe(payload), now=first_now())


def transfer_row(store: Engine, transfer_id: str) -> Any:
    with store.connect() as conn:
        return conn.execute(select(transfers).where(transfers.c.transfer_id == transfer_id)).one_or_none()


def test_a_canceled_payout_is_applied_as_reversed(store: Engine) -> None:
    outcome = deliver(
        store, webhook_settings(), event("evt_cancel", "payout.canceled", official_payout("po_c", "canceled"))
    )
    assert (outcome.applied, outcome.records) == (True, 1)
    row = transfer_row(store, "po_c")
    assert row.reversed and row.payout_id == "p_ledger_canceled"


def test_a_partial_reversal_is_kept_and_reconciliation_shows_it(store: Engine) -> None:
    from payoutwatch.metrics.reconciliation import reconciliation
    from tests.helpers import load, payout

    settings = webhook_settings()
    cycle = utc(2026, 3, 5, 11)
    load(
        store,
        settings,
        "scheduled_payouts",
        [payout("p_ledger_partial", "s1", cycle, 1100, paid_at=utc(2026, 3, 5, 11, 9))],
        utc(2026, 3, 6),
    )
    created = deliver(store, settings, event("evt_t1", "transfer.created", official_transfer("tr_p", 1100, 0)))
    assert created.records == 1
    assert deliver(store, settings, event("evt_t2", "transfer.updated", official_transfer("tr_p", 1100, 500))).applied
    row = transfer_row(store, "tr_p")
    assert (row.reversed, row.amount_reversed_cents, row.amount_cents) == (False, 500, 1100)
    with store.connect() as conn:
        figures = reconciliation(conn, cycle, settings)
    [exception] = figures["exceptions"]
    assert (exception["category"], exception["reversed"], exception["reversed_cents"]) == ("reversed", False, 500)
    assert figures["totals"]["reversed"]["count"] == 1 and figures["totals"]["matched"]["count"] == 0


def test_events_of_connected_accounts_are_ignored_unless_configured(store: Engine) -> None:
    connected = json.loads(event("evt_conn", "payout.paid", official_payout("po_conn", "paid")))
    connected["account"] = "acct_1Connected"
    payload = json.dumps(connected).encode()
    balance = json.loads(event("evt_bal", "balance.available", {"object": "balance", "available": []}))
    balance["account"] = "acct_1Connected"
    ignored = deliver(store, webhook_settings(), payload)
    assert (ignored.applied, ignored.records) == (False, 0) and transfer_row(store, "po_conn") is None
    assert deliver(store, webhook_settings(), json.dumps(balance).encode()).records == 0
    configured = make_settings(
        sources={
            "stripe": {
                "type": "stripe",
                "api_key": KEY,
                "webhook_secrets": [SECRET],
                "connected_accounts": ["acct_1Connected"],
            }
        }
    )
    again = json.dumps({**connected, "id": "evt_conn_2"}).encode()
    assert deliver(store, configured, again).records == 1 and transfer_row(store, "po_conn") is not None


def test_the_sync_records_partial_reversals_and_canceled_payouts(store: Engine) -> None:
    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        objects = {
            "/v1/transfers": [official_transfer("tr_half", 1100, 500)],
            "/v1/payouts": [official_payout("po_cancelled", "canceled")],
        }.get(urlparse(path).path, [])
        return 200, {"object": "list", "url": urlparse(path).path, "has_more": False, "data": objects}, {}

    server = JsonServer(route)
    try:
        settings = make_settings(sources={"stripe": {"type": "stripe", "api_key": KEY, "api_base": server.url}})
        result = sync_source(store, settings, "stripe", now=lambda: NOW)
        assert result.ok and result.counts == {"transfers": 2}, result.error
    finally:
        server.close()
    half, cancelled = transfer_row(store, "tr_half"), transfer_row(store, "po_cancelled")
    assert (half.reversed, half.amount_reversed_cents) == (False, 500)
    assert cancelled.reversed and cancelled.amount_reversed_cents is None


@pytest.mark.parametrize(("reversed_cents", "problem"), [(1101, "more than amount_cents"), (-1, "greater than")])
def test_a_reversed_amount_out_of_bounds_is_refused(reversed_cents: int, problem: str) -> None:
    from payoutwatch.records import BatchRejected, validate_objects

    record = {
        "transfer_id": "tr_x",
        "amount_cents": 1100,
        "currency": "CAD",
        "created_at": "2026-03-05T11:00:00Z",
        "amount_reversed_cents": reversed_cents,
    }
    with pytest.raises(BatchRejected) as refused:
        validate_objects("transfers", [(1, record)])
    assert problem in str(refused.value.errors[0])
