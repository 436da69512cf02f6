"""Peak memory of `payoutwatch ingest` streaming a large JSON Lines file (flat memory, DESIGN §3 / issue 14).

    python bench/stream.py --megabytes 1024 --json bench/results/stream-sqlite-1gb.json

Writes a file of reserve snapshots of about ``--megabytes`` MB (1,000 accounts, one snapshot a day
each), ingests it with the CLI into a fresh SQLite store in a child process, and reports that process's
peak resident memory and its rate, in the JSON rows of bench/run.py. The file and the store go to a
temporary folder (``--folder``) and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("payoutwatch"))


def write_file(path: Path, megabytes: int) -> int:
    """About ``megabytes`` MB of snapshots; returns the number of records."""
    start, limit, records = datetime(2000, 1, 1, tzinfo=UTC), megabytes * 1_000_000, 0
    with path.open("w") as out:
        while out.tell() < limit:
            day = (start + timedelta(days=records // 1000)).isoformat()
            lines = [
                json.dumps(
                    {"account_id": f"st_{i:05d}", "as_of": day, "balance_cents": records + i, "threshold_cents": 50}
                )
                for i in range(1000)
            ]
            out.write("\n".join(lines) + "\n")
            records += 1000
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--folder", default=None, help="where the file and the store go (default: a temp folder)")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-stream-", dir=args.folder) as folder:
        data, config = Path(folder) / "snapshots.jsonl", Path(folder) / "payoutwatch.yaml"
        records = write_file(data, args.megabytes)
        config.write_text(f"store: {{url: 'sqlite:///{Path(folder) / 'pw.db'}'}}\n")
        size = data.stat().st_size
        print(f"{records:,} records, {size / 2**20:,.0f} MiB; ingesting ...", flush=True)
        started = time.perf_counter()
        subprocess.run(
            [CLI, "--config", str(config), "ingest", "reserve_snapshots", str(data)],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PAYOUTWATCH_USER": "bench"},
        )
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    rows: list[dict[str, Any]] = [
        {"metric": "stream_file_size", "store": "sqlite", "scale": None, "value": round(size / 2**20), "unit": "MiB"},
        {"metric": "stream_peak_rss", "store": "sqlite", "scale": None, "value": round(peak, 1), "unit": "MiB"},
        {
            "metric": "stream_rate",
            "store": "sqlite",
            "scale": None,
            "value": round(records / elapsed),
            "unit": "records/s",
        },
    ]
    for row in rows:
        row.update(baseline=None, ratio=None)
        print(f"{row['metric']:<20} {row['value']:>12,} {row['unit']}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
