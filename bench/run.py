"""Benchmark payoutwatch on the reference dataset (DESIGN §9) against hand-written SQL.

    python bench/run.py --scale 1.0 --store sqlite --json bench/results/sqlite-1.0.json

Writes a JSON list of {"metric", "store", "scale", "value", "unit", "baseline", "ratio"} rows
(``ratio`` = ours / baseline) and prints a table. Timings are medians of warm runs. The data is
generated once per scale and store (bench/generate.py) and kept under bench/data/.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sqlalchemy import Engine, create_engine, text  # noqa: E402
from tests.pgcluster import ThrowawayPostgres  # noqa: E402

from bench import baseline  # noqa: E402
from bench.generate import END, SETTINGS  # noqa: E402
from payoutwatch.clock import parse_instant  # noqa: E402
from payoutwatch.metrics import compute, dashboards  # noqa: E402
from payoutwatch.metrics.reserves import projected_breaches  # noqa: E402
from payoutwatch.schedule import schedule_of  # noqa: E402
from payoutwatch.store import reserve_fits  # noqa: E402
from payoutwatch.store.engine import open_store  # noqa: E402
from payoutwatch.store.types import to_micros  # noqa: E402
from payoutwatch.usecases.evaluation import evaluate  # noqa: E402
from payoutwatch.usecases.ingestion import ingest_text  # noqa: E402

DATA = ROOT / "bench" / "data"
DERIVED = SETTINGS.model_copy(update={"schedule": SETTINGS.schedule.model_copy(update={"job": "payouts_derived"})})


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm the cache
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


class Bench:
    def __init__(self, store: str, scale: float, repeat: int) -> None:
        self.store, self.scale, self.repeat = store, scale, repeat
        self.rows: list[dict[str, Any]] = []
        self.cluster: ThrowawayPostgres | None = None

    def row(self, metric: str, value: float, unit: str, base: float | None) -> None:
        ratio = round(value / base, 2) if base else None
        self.rows.append(
            {
                "metric": metric,
                "store": self.store,
                "scale": self.scale,
                "value": round(value, 2),
                "unit": unit,
                "baseline": round(base, 2) if base is not None else None,
                "ratio": ratio,
            }
        )
        print(
            f"{metric:<32} {value:>12.2f} {unit:<10} baseline {base if base is not None else '-':>10} "
            f"ratio {ratio if ratio is not None else '-'}",
            flush=True,
        )

    def admin_url(self) -> str:
        if self.cluster is None:
            self.cluster = ThrowawayPostgres(DATA / "pg")
            self.url_root = self.cluster.start()
        return self.url_root

    def database(self, name: str, *, fresh: bool = False) -> tuple[str, bool]:
        """The URL of a database (created if missing) and whether it already existed."""
        if self.store == "sqlite":
            path = DATA / f"{name}.db"
            existed = path.exists()
            if fresh and existed:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                existed = False
            return f"sqlite:///{path}", existed
        admin = create_engine(self.admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            existed = bool(conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar())
            if fresh and existed:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                existed = False
            if not existed:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.admin_url().rsplit("/", 1)[0] + "/" + name, existed

    def dataset(self) -> Engine:
        name = f"pw_bench_{str(self.scale).replace('.', '_')}"
        url, existed = self.database(name)
        if not existed:
            print(f"generating scale {self.scale} into {self.store} ...", flush=True)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "generate.py"), "--scale", str(self.scale), "--url", url],
                check=True,
            )
            print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
        engine = open_store(url)
        with engine.begin() as conn:  # data generated before reserve_fits existed (migration 0015)
            if conn.execute(text("SELECT count(*) FROM reserve_fits")).scalar() == 0:
                print(f"summed {reserve_fits.rebuild(conn, SETTINGS.rules.reserve_breach.lookback())} fits", flush=True)
        return engine

    def ingest(self, repeat: int = 3) -> None:
        """Validated ingest of 20,000 snapshots (JSON Lines text in, rows stored) against the bare driver
        loading the same rows already parsed: ``executemany`` on SQLite, ``COPY`` on PostgreSQL. Both must
        leave the same rows; each side's rate is the median of ``repeat`` alternating runs."""
        rows = [
            {
                "account_id": f"st_{i % 500:06d}",
                "as_of": f"2026-{1 + (i // 500) // 28:02d}-{1 + (i // 500) % 28:02d}T00:00:00Z",
                "balance_cents": i,
                "threshold_cents": 100,
            }
            for i in range(20_000)
        ]
        jsonl = "".join(json.dumps(r) + "\n" for r in rows)
        values = [
            (r["account_id"], bind_instant(self.store, r["as_of"]), r["balance_cents"], r["threshold_cents"])
            for r in rows
        ]
        url, _ = self.database("pw_bench_ingest", fresh=True)
        engine = open_store(url)
        ours, base, stored = [], [], []
        for _ in range(repeat):
            clear(engine)
            started = time.perf_counter()
            ingest_text(engine, "reserve_snapshots", jsonl, SETTINGS, now=END)
            ours.append(len(rows) / (time.perf_counter() - started))
            stored.append(snapshots(engine))
            clear(engine)
            started = time.perf_counter()
            bare_load(engine, self.store, values)
            base.append(len(rows) / (time.perf_counter() - started))
            stored.append(snapshots(engine))
        assert all(s == stored[0] for s in stored) and len(stored[0]) == len(rows), "both sides store the same rows"
        engine.dispose()
        self.row("ingest_rate", statistics.median(ours), "records/s", statistics.median(base))

    def dashboards(self, engine: Engine) -> None:
        at, past = END, END - timedelta(days=120)
        uncached = dashboards()  # each figure computed afresh; the cache is timed on its own below
        horizon = schedule_of(SETTINGS).next_after(at)
        assert horizon is not None
        with engine.connect() as conn:
            checks: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
                (
                    "payout_health",
                    lambda: uncached["payout_health"](conn, at, SETTINGS),
                    lambda: baseline.payout_health(conn, at, "payouts", derived=False),
                ),
                (
                    "payout_health_derived",
                    lambda: uncached["payout_health"](conn, at, DERIVED),
                    lambda: baseline.payout_health(conn, at, "payouts_derived", derived=True),
                ),
                (
                    "fallback_activity",
                    lambda: uncached["fallback_activity"](conn, at, SETTINGS),
                    lambda: baseline.fallback_activity(conn, at, "payouts"),
                ),
                (
                    "reserves",
                    lambda: uncached["reserves"](conn, at, SETTINGS),
                    lambda: (baseline.reserves(conn, at), baseline.projection(conn, at, horizon)),
                ),
                (
                    "reserves_as_of_120_days_ago",
                    lambda: uncached["reserves"](conn, past, SETTINGS),
                    lambda: (
                        baseline.reserves(conn, past),
                        baseline.projection(conn, past, schedule_of(SETTINGS).next_after(past)),
                    ),
                ),  # type: ignore[arg-type]
                (
                    "reserve_projection",
                    lambda: projected_breaches(conn, at, SETTINGS),
                    lambda: baseline.projection(conn, at, horizon),
                ),
                (
                    "credentials",
                    lambda: uncached["credentials"](conn, at, SETTINGS),
                    lambda: baseline.credentials(conn, at),
                ),
            ]
            for name, ours_fn, base_fn in checks:
                ours_ms, ours = timed(ours_fn, self.repeat)
                base_ms, base = timed(base_fn, self.repeat)
                verify(name, ours, base)
                self.row(f"dashboard_{name}", ours_ms, "ms", base_ms)
            # what pages, /metrics and the CLI pay for a heavy dashboard already computed at that instant
            # and records version (metrics/cache.py), against the hand-written SQL of the same figures
            cached_ms, cached = timed(lambda: compute("reserves", conn, at, SETTINGS), self.repeat)
            base_ms, base = timed(
                lambda: (baseline.reserves(conn, at), baseline.projection(conn, at, horizon)), self.repeat
            )
            verify("reserves", cached, base)
            self.row("dashboard_reserves_cached", cached_ms, "ms", base_ms)

    def evaluation(self, engine: Engine) -> None:
        with engine.begin() as conn:
            for table in ("notifications", "alert_history", "alerts"):
                conn.execute(text(f"DELETE FROM {table}"))
        started = time.perf_counter()
        evaluate(engine, SETTINGS, at=END, now=END)
        self.row("evaluation_first", (time.perf_counter() - started) * 1000, "ms", None)
        ms, _ = timed(lambda: evaluate(engine, SETTINGS, at=END, now=END), 3)
        self.row("evaluation_steady", ms, "ms", None)

    def close(self) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.row("peak_rss", peak, "MiB", None)
        if self.cluster is not None:
            self.cluster.stop()


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reserve_snapshots"))
        conn.execute(text("DELETE FROM reserve_accounts"))


def snapshots(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        query = "SELECT account_id, as_of, balance_cents, threshold_cents FROM reserve_snapshots ORDER BY 1, 2"
        return [tuple(row) for row in conn.execute(text(query))]


def bare_load(engine: Engine, store: str, values: list[tuple[Any, ...]]) -> None:
    """The rows, already parsed and bound, loaded by the driver alone (no validation, no upsert)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = "reserve_snapshots (account_id, as_of, balance_cents, threshold_cents)"
        if store == "sqlite":
            cursor.execute("BEGIN")
            cursor.executemany(f"INSERT INTO {columns} VALUES (?, ?, ?, ?)", values)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY {columns} FROM STDIN") as copy:  # type: ignore[attr-defined]
                for value in values:
                    copy.write_row(value)
            raw.commit()
    finally:
        raw.close()


def bind_instant(store: str, iso_text: str) -> Any:
    instant = parse_instant(iso_text)
    return to_micros(instant) if store == "sqlite" else instant


def verify(name: str, ours: Any, base: Any) -> None:
    """Ours and the baseline must agree on the figures both compute."""
    if name.startswith("payout_health"):
        assert ours["last_run"]["run_id"] == base["last_run_id"], name
        assert ours["current_cycle_cad_cents"] == base["current_cad"], (name, ours["current_cycle_cad_cents"], base)
        if "processed" in base:
            assert ours["last_run"]["studios_processed"] == base["processed"], name
            assert ours["last_run"]["studios_scheduled"] == base["scheduled"], name
    elif name == "fallback_activity":
        assert ours["manual_payout_count"] == base["manual_payout_count"]
        assert ours["automated_cents"] == base["automated_cents"]
        assert ours["detection_to_completion"]["count"] == base["completed"]
    elif name.startswith("reserves"):
        figures, (base_figures, base_breaches) = ours, base
        assert figures["aggregate_balance_cents"] == base_figures["aggregate_balance_cents"], name
        assert len(figures["near_threshold"]) == base_figures["near"], name
        assert figures["held_payouts"]["count"] == base_figures["held"], name
        assert sorted(p["account_id"] for p in figures["projected_breaches"]) == base_breaches, name
    elif name == "reserve_projection":
        assert sorted(p.account_id for p in ours) == base
    elif name == "credentials":
        assert len(ours["credentials"]) == base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.store, args.scale, args.repeat)
    try:
        engine = bench.dataset()
        bench.dashboards(engine)
        bench.evaluation(engine)
        engine.dispose()
        bench.ingest()
    finally:
        bench.close()
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_text(json.dumps(bench.rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
