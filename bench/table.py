"""Render bench/results/*.json as the Markdown table in the README.

python bench/table.py bench/results/sqlite-1.0.json bench/results/postgresql-1.0.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

LABELS = {
    "dashboard_payout_health": "payout_health (run-level counts)",
    "dashboard_payout_health_derived": "payout_health derived from the ledger (1.56M payouts at 1.0)",
    "dashboard_fallback_activity": "fallback_activity",
    "dashboard_reserves": "reserves (incl. projection), at now",
    "dashboard_reserves_as_of_120_days_ago": "reserves (incl. projection), 120 days ago",
    "dashboard_reserve_projection": "reserve projection, every account",
    "dashboard_credentials": "credentials",
    "dashboard_reserves_cached": "reserves at now, computed already (cache hit)",
    "evaluation_first": "full evaluation, first (fires every alert)",
    "evaluation_steady": "full evaluation, steady state",
    "ingest_rate": "ingest (parse + validate + upsert)",
    "peak_rss": "peak RSS of the benchmark process",
}


def cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    value = f"{row['value']:,.0f}" if row["value"] >= 100 else f"{row['value']:.2f}"
    if row["baseline"] is None:
        return f"{value} {row['unit']}"
    base = f"{row['baseline']:,.0f}" if row["baseline"] >= 100 else f"{row['baseline']:.2f}"
    return f"{value} {row['unit']} (SQL {base}; ×{row['ratio']})"


def main(paths: list[str]) -> None:
    results = [json.loads(Path(p).read_text()) for p in paths]
    header = [f"{r[0]['store']} scale {r[0]['scale']}" for r in results]
    print("| metric | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(results))
    for metric, label in LABELS.items():
        cells = [cell(next((row for row in r if row["metric"] == metric), None)) for r in results]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
