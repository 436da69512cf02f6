"""Reconciliation: every kind of mismatch, totals per cycle, CSV, and a sign-off recorded once, only after the
cycle's payout run finished."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.metrics.reconciliation import reconciliation
from payoutwatch.reports.reconciliation import to_csv
from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import audit_log, reconciliation_signoffs
from tests.conftest import make_settings, utc
from tests.helpers import load, payout

CYCLE = utc(2026, 3, 5, 11)
NOW = utc(2026, 3, 20)


def transfer(
    tid: str, cents: int, payout_id: str | None, *, reversed_: bool = False, created: Any = utc(2026, 3, 5, 11, 10)
) -> dict[str, Any]:
    row = {"transfer_id": tid, "amount_cents": cents, "currency": "CAD", "created_at": created, "reversed": reversed_}
    return {**row, "payout_id": payout_id} if payout_id else row


def seed(store: Engine) -> None:
    settings = make_settings()
    paid = {"paid_at": utc(2026, 3, 5, 11, 9)}
    load(
        store,
        settings,
        "scheduled_payouts",
        [
            payout("p_ok", "s1", CYCLE, 1000, **paid),
            payout("p_by_transfer_id", "s2", CYCLE, 2000, transfer_id="tr_b", **paid),
            payout("p_missing", "s3", CYCLE, 3000, **paid),
            payout("p_amount", "s4", CYCLE, 4000, **paid),
            payout("p_reversed", "s5", CYCLE, 5000, **paid),
            payout("p_held", "s6", CYCLE, 6000, status="held", hold_reason="reserve_cap"),
            payout("p_failed_but_sent", "s7", CYCLE, 7000, status="failed"),
            payout("p_other_cycle", "s8", utc(2026, 3, 19, 10), 8000, paid_at=utc(2026, 3, 19, 10, 5)),
        ],
        NOW,
    )
    load(
        store,
        settings,
        "transfers",
        [
            transfer("tr_a", 1000, "p_ok"),
            transfer("tr_b", 2000, None),
            transfer("tr_d", 3999, "p_amount"),
            transfer("tr_e", 5000, "p_reversed", reversed_=True),
            transfer("tr_g", 7000, "p_failed_but_sent"),
            transfer("tr_orphan", 900, "po_unknown"),
            transfer("tr_orphan_later", 100, None, created=utc(2026, 3, 19, 10, 30)),  # the next cycle's
        ],
        NOW,
    )


def test_each_kind_of_mismatch_and_the_totals(store: Engine) -> None:
    seed(store)
    with store.connect() as conn:
        r = reconciliation(conn, CYCLE, make_settings())
    counts = {k: v["count"] for k, v in r["totals"].items()}
    assert counts == {
        "matched": 2,
        "missing_transfer": 1,
        "amount_mismatch": 1,
        "reversed": 1,
        "unexpected_transfer": 1,
        "orphan_transfer": 1,
    }
    assert (r["ledger_paid_cents"], r["psp_settled_cents"], r["difference_cents"]) == (15000, 6999, 8001)
    assert {(e["category"], e["payout_id"]) for e in r["exceptions"]} == {
        ("missing_transfer", "p_missing"),
        ("amount_mismatch", "p_amount"),
        ("reversed", "p_reversed"),
        ("unexpected_transfer", "p_failed_but_sent"),
    }
    assert [o["transfer_id"] for o in r["orphans"]] == ["tr_orphan"]
    rows = list(csv.DictReader(io.StringIO(to_csv(r))))
    assert {row["category"] for row in rows} >= {"missing_transfer", "orphan_transfer", "total:matched"}
    assert next(row for row in rows if row["category"] == "amount_mismatch")["psp_cents"] == "3999"


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        signed = conn.execute(select(func.count()).select_from(reconciliation_signoffs)).scalar_one()
        audited = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    return signed, audited


def test_cli_report_and_a_single_sign_off(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "schedule": {"start": "2026-03-05"}})
    )
    engine = open_store(f"sqlite:///{tmp_path / 'pw.db'}")
    seed(engine)
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(config), *args], env={"PAYOUTWATCH_USER": "fin-ana"})

    md = cli("report", "reconciliation", "--cycle", "2026-03-05")
    assert md.exit_code == 0 and "difference **80.01 CAD**" in md.output and "Not signed off yet." in md.output
    assert cli("report", "reconciliation", "--cycle", "2026-03-06").exit_code == 2  # no cycle that day
    for run in ([], [{"run_id": "r1", "scheduled_for": CYCLE, "started_at": utc(2026, 3, 5, 11, 1)}]):
        load(engine, make_settings(), "job_runs", run, NOW)  # none, then one still running
        before = counts(engine)
        early = cli("reconcile", "sign-off", "--cycle", "2026-03-05")
        assert early.exit_code == 1 and "cannot be signed off yet: no payouts run of that cycle has finished" in (
            early.output
        )
        assert counts(engine) == before  # nothing written: the real sign-off stays possible
    finished = {"finished_at": utc(2026, 3, 5, 11, 20), "exit_code": 0}
    load(engine, make_settings(), "job_runs", [{**run[0], **finished}], NOW)
    signed = cli("reconcile", "sign-off", "--cycle", "2026-03-05", "--comment", "p_missing chased with the PSP")
    assert signed.exit_code == 0, signed.output
    again = cli("reconcile", "sign-off", "--cycle", "2026-03-05")
    assert again.exit_code == 1 and "already signed off by fin-ana" in again.output
    figures = json.loads(cli("report", "reconciliation", "--cycle", "2026-03-05", "--format", "json").output)
    assert figures["signed_off"]["by"] == "fin-ana" and figures["signed_off"]["comment"].startswith("p_missing")
    engine.dispose()


def test_the_demo_reconciles_as_its_story_says(sqlite_store: Engine) -> None:
    """The demo's failed cycle (2026-11-05) says how many payouts failed; its latest finished cycle has a
    missing transfer, an amount mismatch and a reversal to practise on."""
    from datetime import date

    from payoutwatch.demo import build_platform
    from payoutwatch.demo import load as load_demo
    from payoutwatch.metrics.reconciliation import cycle_on
    from payoutwatch.reports.render import render

    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
    )
    now = utc(2026, 11, 26, 14)
    load_demo(sqlite_store, build_platform(settings, now), settings, now)
    with sqlite_store.connect() as conn:
        failed = reconciliation(conn, cycle_on(date(2026, 11, 5), settings), settings)
        latest = reconciliation(conn, cycle_on(date(2026, 11, 19), settings), settings)
    assert failed["unpaid"]["failed"]["count"] == 130
    assert "Not paid by the ledger: 130 failed (" in render("reconciliation", failed, "md", zone=settings.display_tz)
    counts = {k: v["count"] for k, v in latest["totals"].items() if k != "matched"}
    assert counts == {
        "missing_transfer": 1,
        "amount_mismatch": 1,
        "reversed": 1,
        "unexpected_transfer": 0,
        "orphan_transfer": 0,
    }
    mismatch = next(e for e in latest["exceptions"] if e["category"] == "amount_mismatch")
    assert mismatch["ledger_cents"] - mismatch["psp_cents"] == 2_500
