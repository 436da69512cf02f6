"""Records at every bound of DESIGN §3 are stored on both stores, and every figure over them is exact.

9,300 amounts of 10^15 cents add up past 2^63 (SQLite's ``sum()`` would raise "integer overflow"):
dashboards, an evaluation, the weekly, reconciliation and quarterly reports still compute, exactly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.metrics import DASHBOARD_NAMES, compute
from payoutwatch.metrics.reconciliation import reconciliation
from payoutwatch.reports.quarterly import quarterly
from payoutwatch.reports.render import render
from payoutwatch.reports.weekly import weekly
from payoutwatch.store.tables import alerts, credentials
from payoutwatch.usecases.evaluation import evaluate
from tests.conftest import utc
from tests.helpers import credential, load, manual, payout, run, snapshot

CENTS = 10**15
MANY = 9_300  # MANY × 10^15 > 2^63 − 1
CYCLE = utc(2026, 3, 5, 11)
NEXT_CYCLE = utc(2026, 3, 19, 10)
AT = utc(2026, 3, 20)
LONGEST_ID = "i" * 199
OWNER = "o" * 200
NAME = "n" * 1000


def bounded_platform(engine: Engine, settings: Settings) -> None:
    runs = [
        run(f"r{i}", CYCLE + timedelta(seconds=i), scheduled_for=CYCLE, cad_processed_cents=CENTS, exit_code=0)
        for i in range(MANY)
    ]
    runs[0]["finished_at"] = CYCLE + timedelta(hours=1)
    runs.append(
        run(
            LONGEST_ID,
            CYCLE + timedelta(hours=2),
            job="j" * 200,
            source="s" * 200,
            studios_scheduled=10**9,
            studios_processed=10**9,
            success_count=10**9,
            error_count=10**9,
            retry_count=10**9,
            exit_code=-(2**31),
            finished_at=CYCLE + timedelta(hours=3),
        )
    )
    runs.append(run("late", NEXT_CYCLE, exit_code=2**31 - 1, finished_at=NEXT_CYCLE + timedelta(minutes=1)))
    load(engine, settings, "job_runs", runs, AT)
    paid = [
        payout(f"p{i}", f"st_{i}", CYCLE, CENTS, run_id="r0", paid_at=CYCLE + timedelta(minutes=30))
        for i in range(MANY)
    ]
    held = [
        payout(f"h{i}", f"st_{i}", NEXT_CYCLE, CENTS, status="held", hold_reason="reserve_cap") for i in range(MANY)
    ]
    held[0]["hold_reason"] = "x" * 200
    load(engine, settings, "scheduled_payouts", paid + held, AT)
    transfers = [
        {"transfer_id": f"t{i}", "amount_cents": CENTS, "currency": "CAD", "created_at": CYCLE, "payout_id": f"p{i}"}
        for i in range(MANY)
    ]
    orphans = [
        {
            "transfer_id": f"o{i}",
            "amount_cents": CENTS,
            "currency": "CAD",
            "created_at": CYCLE,
            "destination": "d" * 200,
        }
        for i in range(3)
    ]
    load(engine, settings, "transfers", transfers + orphans, AT)
    manuals = [manual(f"m{i}", CYCLE + timedelta(minutes=i), CENTS, reason="r" * 1000) for i in range(MANY)]
    load(engine, settings, "manual_payouts", manuals, AT)
    snapshots = [snapshot(f"st_{i}", CYCLE, CENTS, CENTS) for i in range(MANY)]
    snapshots += [snapshot("negative", CYCLE, -CENTS, CENTS), snapshot("platform", CYCLE, CENTS, 0)]
    load(engine, settings, "reserve_snapshots", snapshots, AT)
    creds = [
        credential("c" * 200, utc(1970, 1, 1), name=NAME, owner=OWNER, source="s" * 200, expires_at=utc(2026, 3, 25)),
        credential("far", utc(2026, 1, 1), expires_at=utc(2199, 12, 31, 23, 59, 59)),
    ]
    load(engine, settings, "credentials", creds, AT)


def test_records_at_the_bounds_are_stored_and_every_figure_is_exact(store: Engine, settings: Settings) -> None:
    assert MANY * CENTS > 2**63
    bounded_platform(store, settings)
    dashboards_are_exact(store, settings)
    evaluation_and_reports_run(store, settings)


def dashboards_are_exact(platform: Engine, settings: Settings) -> None:
    with platform.connect() as conn:
        boards: dict[str, Any] = {name: compute(name, conn, AT, settings) for name in DASHBOARD_NAMES}
        stored = conn.execute(select(credentials.c.name, credentials.c.owner).where(credentials.c.owner == OWNER)).one()
    assert tuple(stored) == (NAME, OWNER)
    fallback = boards["fallback_activity"]
    assert fallback["fallback_cents"] == MANY * CENTS
    assert fallback["automated_cents"] == MANY * CENTS
    reserves = boards["reserves"]
    assert reserves["aggregate_balance_cents"] == MANY * CENTS - CENTS
    assert reserves["aggregate_threshold_cents"] == (MANY + 1) * CENTS
    assert reserves["held_payouts"] == {"count": MANY - 1, "amount_cents": (MANY - 1) * CENTS}
    assert [b["account_id"] for b in reserves["projected_breaches"]] == ["negative"]
    cycles = {c["scheduled_for"]: c for c in boards["payout_health"]["cycles"]}
    assert cycles["2026-03-05T11:00:00Z"]["cad_processed_cents"] == MANY * CENTS
    assert boards["payout_health"]["last_run"]["run_id"] == "late"


def evaluation_and_reports_run(platform: Engine, settings: Settings) -> None:
    evaluate(platform, settings, at=AT, now=AT)
    with platform.connect() as conn:
        keys = {r.key: r.owner for r in conn.execute(select(alerts.c.key, alerts.c.owner))}
        report = weekly(conn, AT, settings)
        recon = reconciliation(conn, CYCLE, settings)
        quarter = quarterly(conn, "2026Q1", settings)
    assert keys["reserve_breach:negative"] and keys[f"credential_expiry:{'c' * 200}"] == OWNER
    assert "fallback_volume" in keys
    for fmt in ("md", "html", "json"):
        assert render("weekly", report, fmt, zone=settings.display_tz)
    assert recon["totals"]["matched"] == {"count": MANY, "ledger_cents": MANY * CENTS, "psp_cents": MANY * CENTS}
    assert recon["totals"]["orphan_transfer"] == {"count": 3, "ledger_cents": 0, "psp_cents": 3 * CENTS}
    assert recon["difference_cents"] == 0
    assert quarter["totals"]["fallback_cents"] == MANY * CENTS
    assert quarter["by_reason"][0]["fallback_cents"] == MANY * CENTS
