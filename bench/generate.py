"""The reference dataset of DESIGN §9, scaled: 20,000 × scale studios, 3 years of biweekly cycles
(scheduled payouts and transfers per studio per cycle), a year of daily reserve snapshots per studio,
runs of two jobs (one reporting its counts, one leaving them to be derived from the ledger),
manual payouts and credentials.

Rows are streamed in chunks straight into a migrated store (the fastest bulk path each database
offers), so memory stays flat whatever the scale. ``reserve_accounts`` is then derived in SQL.

    python bench/generate.py --scale 0.1 --url sqlite:///bench/data/sqlite-0.1.db
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import Engine, text  # noqa: E402

from payoutwatch.config import parse_settings  # noqa: E402
from payoutwatch.schedule import schedule_of  # noqa: E402
from payoutwatch.store import reserve_fits  # noqa: E402
from payoutwatch.store.engine import open_store  # noqa: E402
from payoutwatch.store.types import to_micros  # noqa: E402

END = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the benchmark's "now"
SETTINGS = parse_settings({"schedule": {"start": "2023-12-07"}})
CHUNK = 20_000
JOBS = ("payouts", "payouts_derived")


def cycles() -> list[datetime]:
    return list(schedule_of(SETTINGS).between(END - timedelta(days=3 * 364), END))


def studios(scale: float) -> list[str]:
    return [f"st_{i:06d}" for i in range(max(2, round(20_000 * scale)))]


def chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def payout_rows(ids: list[str], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """One scheduled payout per studio per cycle: 0.4 % held, 0.4 % failed, the rest paid."""
    for cycle in cycles():
        run = f"payouts_derived_{cycle:%Y%m%d}"
        for studio in ids:
            amount = rng.randint(5_000, 2_000_000)
            roll = rng.random()
            # status, hold_reason, paid_at, run_id, transfer_id
            outcome: tuple[Any, ...]
            if roll < 0.004:
                outcome = ("held", "reserve_cap", None, None, None)
            elif roll < 0.008:
                outcome = ("failed", None, None, run, None)
            else:
                paid = cycle + timedelta(seconds=rng.randint(60, 1500))
                outcome = ("paid", None, paid, run, f"tr_{studio}_{cycle:%Y%m%d}")
            yield (f"po_{studio}_{cycle:%Y%m%d}", studio, cycle, amount, "CAD", *outcome, END)


def transfer_rows(ids: list[str], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for cycle in cycles():
        for studio in ids:
            created = cycle + timedelta(seconds=rng.randint(60, 1500))
            yield (
                f"tr_{studio}_{cycle:%Y%m%d}",
                rng.randint(5_000, 2_000_000),
                "CAD",
                created,
                f"acct_{studio}",
                f"po_{studio}_{cycle:%Y%m%d}",
                False,
                END,
            )


def snapshot_rows(ids: list[str], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    first = END.replace(hour=0) - timedelta(days=364)
    for studio in ids:
        threshold = rng.randint(100, 5_000) * 100
        balance = threshold * rng.uniform(1.0, 3.0)
        drift = threshold * rng.uniform(-0.004, 0.004)
        for day in range(365):
            balance += drift + rng.gauss(0, threshold * 0.01)
            yield (studio, first + timedelta(days=day), int(balance), threshold)


def run_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for job in JOBS:
        for cycle in cycles():
            started = cycle + timedelta(seconds=rng.randint(10, 200))
            finished = started + timedelta(minutes=rng.uniform(10, 28))
            reported = (20000, 19950, 19950, 50, rng.randint(0, 9), rng.randint(10**9, 5 * 10**9))
            counts = reported if job == "payouts" else (None,) * len(reported)  # the other job leaves them out
            yield (f"{job}_{cycle:%Y%m%d}", job, cycle, cycle, started, finished, 0, *counts, "bench", END)


def manual_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i, cycle in enumerate(cycles()):
        for j in range(3):
            detected = cycle + timedelta(hours=rng.uniform(1, 40))
            done = detected + timedelta(hours=rng.uniform(1, 72)) if rng.random() < 0.9 else None
            yield (
                f"mp_{i}_{j}",
                f"st_{rng.randint(0, 999):06d}",
                rng.randint(10_000, 900_000),
                "CAD",
                detected,
                done,
                "bank_rejected",
                None,
                cycle,
                END,
            )


def credential_rows(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    kinds = ("apple_pay_certificate", "stripe_restricted_key", "webhook_signing_secret", "other")
    for i in range(300):
        for version in range(2):
            created = END - timedelta(days=rng.randint(1, 700) + 400 * (1 - version))
            kind = kinds[i % 4]
            expires = created + timedelta(days=760) if kind == "apple_pay_certificate" else None
            yield (f"cred_{i}", created, kind, f"credential {i}", "security", expires, None, "bench", END)


TABLES: dict[str, tuple[str, ...]] = {
    "scheduled_payouts": (
        "payout_id",
        "studio_id",
        "scheduled_for",
        "amount_cents",
        "currency",
        "status",
        "hold_reason",
        "paid_at",
        "run_id",
        "transfer_id",
        "ingested_at",
    ),
    "transfers": (
        "transfer_id",
        "amount_cents",
        "currency",
        "created_at",
        "destination",
        "payout_id",
        "reversed",
        "ingested_at",
    ),
    "reserve_snapshots": ("account_id", "as_of", "balance_cents", "threshold_cents"),
    "job_runs": (
        "run_id",
        "job",
        "scheduled_for",
        "cycle_at",
        "started_at",
        "finished_at",
        "exit_code",
        "studios_scheduled",
        "studios_processed",
        "success_count",
        "error_count",
        "retry_count",
        "cad_processed_cents",
        "source",
        "ingested_at",
    ),
    "manual_payouts": (
        "id",
        "studio_id",
        "amount_cents",
        "currency",
        "detected_at",
        "completed_at",
        "reason",
        "run_id",
        "scheduled_for",
        "ingested_at",
    ),
    "credentials": (
        "credential_id",
        "created_at",
        "kind",
        "name",
        "owner",
        "expires_at",
        "rotate_by",
        "source",
        "ingested_at",
    ),
}


def sqlite_value(value: Any) -> Any:
    return to_micros(value) if isinstance(value, datetime) else value


def bulk_insert(engine: Engine, table: str, rows: Iterator[tuple[Any, ...]]) -> int:
    columns = TABLES[table]
    count = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            cur.execute("BEGIN")
            for batch in chunks(rows):
                cur.executemany(sql, [tuple(sqlite_value(v) for v in row) for row in batch])
                count += len(batch)
            cur.execute("COMMIT")
        raw.commit()
    finally:
        raw.close()
    return count


DERIVE_ACCOUNTS = """
INSERT INTO reserve_accounts (account_id, first_as_of, last_as_of, last_balance_cents, last_threshold_cents)
SELECT s.account_id, b.first_as_of, s.as_of, s.balance_cents, s.threshold_cents
FROM (SELECT account_id, min(as_of) AS first_as_of, max(as_of) AS last_as_of FROM reserve_snapshots
      GROUP BY account_id) b
JOIN reserve_snapshots s ON s.account_id = b.account_id AND s.as_of = b.last_as_of
"""


def generate(url: str, scale: float, *, log: Any = print) -> dict[str, int]:
    engine = open_store(url)
    rng = random.Random(7)
    ids = studios(scale)
    counts = {}
    for table, rows in (
        ("job_runs", run_rows(rng)),
        ("manual_payouts", manual_rows(rng)),
        ("credentials", credential_rows(rng)),
        ("scheduled_payouts", payout_rows(ids, rng)),
        ("transfers", transfer_rows(ids, rng)),
        ("reserve_snapshots", snapshot_rows(ids, rng)),
    ):
        started = time.perf_counter()
        counts[table] = bulk_insert(engine, table, rows)
        log(f"  {table}: {counts[table]:,} rows in {time.perf_counter() - started:.1f} s")
    with engine.begin() as conn:
        conn.execute(text(DERIVE_ACCOUNTS))
        reserve_fits.rebuild(conn, SETTINGS.rules.reserve_breach.lookback())
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    generate(args.url, args.scale)


if __name__ == "__main__":
    main()
